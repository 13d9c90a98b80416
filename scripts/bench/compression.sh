#!/usr/bin/env bash
# On-the-fly compression benchmark of http-server against nginx (issue 14; `scripts/bench.sh
# --compression` runs it):
#   - the 100 KiB script app.js asked for with a browser's Accept-Encoding at c=50, keep-alive:
#     our compressed-cache hits against our identity responses of the same file (target >= 0.9x)
#     and against nginx gzipping each response at level 1 (target >= 3x);
#   - a burst of BURST_FILES new files must not delay other clients (target: under 50 ms).
#
#   PAIRS=3 SECONDS_PER_RUN=5 BURST_FILES=10000 scripts/bench/compression.sh
#
# Installs wrk and nginx from Debian's packages when missing, serves target/bench/root from both
# (127.0.0.1 only), and writes target/bench/compression.tsv and target/bench/burst.txt. Every
# server is stopped by PID at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/bench/nginx.sh
. scripts/bench/nginx.sh
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

pairs="${PAIRS:-3}"
run_secs="${SECONDS_PER_RUN:-5}"
warm_secs=2
burst_files="${BURST_FILES:-10000}"
cores="$(nproc)"

# (ensure-tools keeps nginx's package from starting a system nginx.)
scripts/ensure-tools.sh wrk nginx python3 curl
ulimit -n "$(ulimit -Hn)"

cargo build --release --quiet --bin http-server
bin="${CARGO_TARGET_DIR:-target}/release/http-server"
out=target/bench
root="$out/root"
mkdir -p "$root"
[ -s "$root/1k.html" ] || head -c 1024 /dev/urandom | base64 -w 76 | head -c 1024 > "$root/1k.html"
# The compression case wants real code: rustdoc's search script (about 90 KiB, minified) when the
# toolchain's docs are installed, else 100 KiB of generated functions.
if [ ! -s "$root/app.js" ]; then
    real="$(find "$(rustc --print sysroot)/share/doc/rust/html/static.files" -name 'search-*.js' 2>/dev/null | head -n 1 || true)"
    if [ -n "$real" ]; then
        cp "$real" "$root/app.js"
    else
        python3 -c 'import sys; open(sys.argv[1], "w").write("".join(
            f"export function f{i}(a, b) {{ return a * {i % 97} + b.length - \"k{i * 7919 % 10007}\"; }}\n"
            for i in range(1600)))' "$root/app.js"
    fi
fi
# Distinct scripts (8-24 KiB slices of app.js) for the burst measurement.
[ -s "$root/burst/f$(printf %05d $((burst_files - 1))).js" ] || python3 - "$root/app.js" "$root/burst" "$burst_files" <<'PY'
import os, sys
src, dest, n = open(sys.argv[1], "rb").read(), sys.argv[2], int(sys.argv[3])
os.makedirs(dest, exist_ok=True)
for i in range(n):
    start = (i * 7919) % max(1, len(src) - 24576)
    with open(os.path.join(dest, f"f{i:05d}.js"), "wb") as f:
        f.write(b"// burst file %d\n" % i + src[start:start + 8192 + (i * 131) % 16384])
PY

prefix="$(mktemp -d)"
ours_pid=""; nginx_pid=""; burst_pid=""
cleanup() {
    for pid in $ours_pid $nginx_pid $burst_pid; do
        if kill -TERM "$pid" 2>/dev/null; then wait "$pid" 2>/dev/null || true; fi
    done
    rm -rf "$prefix"
}
trap cleanup EXIT

"$bin" --port 0 --threads "$cores" --access-log off --idle-timeout 65s "$root" > "$out/ours.out" 2> "$out/ours.err" &
ours_pid=$!
ours_url="$(listening_url "$out/ours.out")"
ours_port="${ours_url##*:}"

write_nginx_config() { # PORT
    # The compression case's peer: gzip on every response at the cheapest level. Only requests
    # with Accept-Encoding (the compression case's) are compressed.
    nginx_config "$prefix" "$cores" 65536 "127.0.0.1:$1" "$PWD/$root" \
        "    gzip on;
    gzip_comp_level 1;
    gzip_min_length 1024;
    gzip_types text/javascript;
    gzip_vary on;"
}
start_nginx "$prefix" "$out/nginx.err" http write_nginx_config
curl -sf -o /dev/null "http://127.0.0.1:$ours_port/1k.html" || { echo "bench: http-server did not start" >&2; exit 1; }

port_of() { [ "$1" = ours ] && echo "$ours_port" || echo "$nginx_port"; }

wrk_run() { # SERVER PATH CONNS SECS [HEADER]
    local threads=2
    [ "$3" -lt 2 ] && threads=1
    local extra=()
    [ -n "${5:-}" ] && extra=(-H "$5")
    wrk -t"$threads" -c"$3" -d"$4"s --timeout 10s "${extra[@]}" -s scripts/bench/report.lua \
        "http://127.0.0.1:$(port_of "$1")$2" | sed -n 's/^RESULT //p'
}


echo "http-server vs nginx $(nginx -v 2>&1 | sed 's/.*\///'): $cores cores, $(uname -r), $pairs pairs x ${run_secs}s"

# On-the-fly compression (issue 14): the script asked for with a browser's Accept-Encoding at
# c=50, keep-alive: our compressed-cache hits against our identity responses of the same file
# (target >= 0.9x) and against nginx gzipping each response at level 1 (target >= 3x), with the
# bytes each sends per response (head included).
ae="Accept-Encoding: gzip, deflate, br, zstd"
# Our first answer is a miss (identity, and the file is queued): wait for the cached copy.
for _ in $(seq 100); do
    curl -s -o /dev/null -D - -H "$ae" "http://127.0.0.1:$ours_port/app.js" | grep -qi '^content-encoding: br' && break
    sleep 0.1
done
compression_results="$out/compression.tsv"
printf 'variant\tpair\treq_s\tp99_ms\terrors\tbytes_per_response\tbody_bytes\n' > "$compression_results"
variants=("ours-br ours $ae" "ours-identity ours -" "nginx-gzip1 nginx $ae")
body_bytes() { # SERVER HEADER
    curl -s -o /dev/null -w '%{size_download}' ${2:+-H "$2"} "http://127.0.0.1:$(port_of "$1")/app.js"
}
for variant in "${variants[@]}"; do
    read -r name server header <<< "$variant"
    [ "$header" = - ] && header=""
    wrk_run "$server" /app.js 50 "$warm_secs" "$header" > /dev/null
done
for pair in $(seq "$pairs"); do
    for k in 0 1 2; do
        read -r name server header <<< "${variants[$(((pair + k) % 3))]}"
        [ "$header" = - ] && header=""
        read -r rps p99 errors mbps _ <<< "$(wrk_run "$server" /app.js 50 "$run_secs" "$header")"
        per=$(python3 -c "print(round($mbps * 1e6 / $rps) if $rps else 0)")
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$pair" "$rps" "$p99" "$errors" "$per" \
            "$(body_bytes "$server" "$header")" >> "$compression_results"
    done
done
echo "  done: compression (app.js, $(stat -c %s "$root/app.js") bytes)"

# A burst of new files must not delay other clients (target: under 50 ms): a probe asks for
# the 1 KiB page every 5 ms while a burst asks for $burst_files distinct scripts, each a miss
# that queues a compression, on a fresh server with compression on and, to compare, off.
burst_out="$out/burst.txt"
: > "$burst_out"
for flags in "" "--compress off"; do
    # shellcheck disable=SC2086
    "$bin" --port 0 --threads "$cores" --access-log off $flags "$root" > "$out/burst.out" 2> "$out/burst.err" &
    burst_pid=$!
    burst_url="$(listening_url "$out/burst.out")"
    burst_port="${burst_url##*:}"
    echo "compression ${flags:-on}:" >> "$burst_out"
    python3 scripts/bench/burst.py "$burst_port" "$burst_files" /1k.html >> "$burst_out" || true
    kill -TERM "$burst_pid"; wait "$burst_pid" 2>/dev/null || true
    burst_pid=""
done
echo "  done: burst of $burst_files files"

python3 - "$compression_results" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
med = lambda name, key: statistics.median(float(r[key]) for r in rows if r["variant"] == name)
print()
print(f"{'compression c=50':<18} {'req/s':>9} {'p99 ms':>8} {'bytes/resp':>11} {'body bytes':>11}  per pair req/s")
for name in ("ours-br", "ours-identity", "nginx-gzip1"):
    pairs = " ".join(f"{float(r['req_s']):.0f}" for r in rows if r["variant"] == name)
    print(f"{name:<18} {med(name, 'req_s'):>9.0f} {med(name, 'p99_ms'):>8.2f} "
          f"{med(name, 'bytes_per_response'):>11.0f} {med(name, 'body_bytes'):>11.0f}  {pairs}")
br = med("ours-br", "req_s")
print(f"compressed hits / identity: {br / med('ours-identity', 'req_s'):.2f}x (target >= 0.9x); "
      f"/ nginx gzip 1: {br / med('nginx-gzip1', 'req_s'):.2f}x (target >= 3x)")
PY
echo
cat "$burst_out"
echo "results: $compression_results, $burst_out"
