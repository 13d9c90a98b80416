#!/usr/bin/env bash
# A browser's page load over HTTPS, HTTP/2 against our own HTTP/1.1 (issue 23): headless
# Chromium loads a page of 100 images (1 to 40 KiB, 1.7 MiB in all; scripts/bench/assets_page.py)
# from one release build serving it over TLS with HTTP/2, and from another run of the same
# build with --no-http2, which Chromium then fetches over its six HTTP/1.1 connections. The
# time is the page's own (loadEventStart from the start of the navigation), so the browser's
# start-up does not count; every load has a fresh profile (no cache, no session to resume).
#
#   scripts/bench/pageload.sh                # 10 rounds, the two servers alternating
#   ROUNDS=20 scripts/bench/pageload.sh
#
# Loopback has no round trip to save: the difference here is what each protocol costs the
# browser and the server, not the latency HTTP/2 hides on a real network. Results in
# target/bench/pageload.tsv.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
me=pageload

rounds="${ROUNDS:-10}"
scripts/ensure-tools.sh chromium openssl python3
cargo build --release --quiet --bin http-server
bin="${CARGO_TARGET_DIR:-target}/release/http-server"
out=target/bench/pageload
mkdir -p "$out"
work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$work/key.pem" -out "$work/cert.pem" 2> /dev/null
spki="$(openssl x509 -in "$work/cert.pem" -pubkey -noout | openssl pkey -pubin -outform der |
    openssl dgst -sha256 -binary | base64)"
python3 scripts/bench/assets_page.py "$work/site" 100

declare -A port
for name in h2 http1.1; do
    extra=()
    [ "$name" = h2 ] || extra=(--no-http2)
    "$bin" --port 0 --access-log off --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" \
        "${extra[@]}" "$work/site" > "$out/$name.out" 2> "$out/$name.err" &
    pids+=("$!")
    url="$(listening_url "$out/$name.out")"
    [ -n "$url" ] || { echo "$me: the $name server did not start" >&2; cat "$out/$name.err" >&2; exit 1; }
    port[$name]="${url##*:}"
done

# One load: prints "LOAD_MS PROTOCOLS" (for example "183 h2=100").
load() {
    rm -rf "$work/profile"
    local title
    title="$(chromium_run 1024 768 --ignore-certificate-errors-spki-list="$spki" --dump-dom \
        "https://localhost:${port[$1]}/assets.html" | sed -n 's|.*<title>\(.*\)</title>.*|\1|p')"
    python3 -c '
import json, sys
t = json.loads(sys.argv[1])
if t["resources"] != 100:
    sys.exit("%d resources loaded, not 100" % t["resources"])
print(t["load_ms"], ",".join(f"{k}={v}" for k, v in sorted(t["protocols"].items())))
' "$title" || { echo "$me: the page did not load from $1: '$title'" >&2; exit 1; }
}

load h2 > /dev/null # a warm-up: the files into the page cache, the browser's first start
load http1.1 > /dev/null
printf 'round\tserver\tload_ms\tprotocols\n' > "$out/../pageload.tsv"
order=(h2 http1.1)
for round in $(seq "$rounds"); do
    for name in "${order[@]}"; do
        read -r ms protocols < <(load "$name")
        printf '%s\t%s\t%s\t%s\n' "$round" "$name" "$ms" "$protocols" >> "$out/../pageload.tsv"
        printf '  round %s %-8s %5s ms  %s\n' "$round" "$name" "$ms" "$protocols"
    done
    order=("${order[1]}" "${order[0]}")
done
python3 - "$out/../pageload.tsv" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
median = {}
for name in ("h2", "http1.1"):
    times = [int(r["load_ms"]) for r in rows if r["server"] == name]
    median[name] = statistics.median(times)
    print(f"{name:8} median {median[name]:6.0f} ms  (min {min(times)}, max {max(times)}, {len(times)} loads)")
print(f"HTTP/1.1 / HTTP/2 load time: {median['http1.1'] / median['h2']:.2f}x")
PY
