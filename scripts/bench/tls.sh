#!/usr/bin/env bash
# HTTPS benchmark of http-server against nginx with the same ECDSA P-256 certificate
# (`scripts/bench.sh --tls` runs it). Cases, as issue 15 sets them:
#   1k-keepalive-c100   wrk, keep-alive, 100 connections            (target >= 1.0x nginx)
#   1k-newconn-c50      h2load --h1, Connection: close, full handshakes (target >= 0.9x)
#   1m-c10              wrk, 1 MiB file, 10 connections             (target >= 1.0x with kTLS)
#
#   PAIRS=3 SECONDS_PER_RUN=10 NEWCONN_REQUESTS=20000 scripts/bench/tls.sh
#
# Both servers serve target/bench/root on 127.0.0.1, are alternated case by case (A B A B ...),
# and are stopped by PID at the end. nginx gets ssl_session_cache on, TLS 1.2/1.3 and its
# default suites; ours has no session tickets either way, and h2load makes a full handshake
# per connection. Results: target/bench/tls.tsv.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/bench/nginx.sh
. scripts/bench/nginx.sh
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

pairs="${PAIRS:-3}"
run_secs="${SECONDS_PER_RUN:-10}"
newconn_requests="${NEWCONN_REQUESTS:-20000}"
cores="$(nproc)"

scripts/ensure-tools.sh wrk nginx h2load:nghttp2-client openssl python3
ulimit -n "$(ulimit -Hn)"

cargo build --release --quiet --bin http-server
bin="${CARGO_TARGET_DIR:-target}/release/http-server"
out=target/bench
root="$out/root"
mkdir -p "$root" "$out/tls"
[ -s "$root/1k.html" ] || head -c 1024 /dev/urandom | base64 -w 76 | head -c 1024 > "$root/1k.html"
[ -s "$root/1m.bin" ] || head -c 1048576 /dev/urandom > "$root/1m.bin"
cert="$out/tls/cert.pem"; key="$out/tls/key.pem"
# Made here, never committed.
[ -s "$key" ] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$key" -out "$cert" 2> /dev/null

prefix="$(mktemp -d)"
ours_pid=""; nginx_pid=""
cleanup() {
    for pid in $ours_pid $nginx_pid; do
        kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    done
    rm -rf "$prefix"
}
trap cleanup EXIT

"$bin" --port 0 --threads "$cores" --access-log off --idle-timeout 65s \
    --tls-cert "$cert" --tls-key "$key" "$root" > "$out/tls/ours.out" 2> "$out/tls/ours.err" &
ours_pid=$!
ours_url="$(listening_url "$out/tls/ours.out")"
ours_port="${ours_url##*:}"

write_nginx_config() { # PORT
    nginx_config "$prefix" "$cores" 65536 "127.0.0.1:$1 ssl" "$PWD/$root" \
        "    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;" \
        "        ssl_certificate $PWD/$cert;
        ssl_certificate_key $PWD/$key;"
}
start_nginx "$prefix" "$out/tls/nginx.err" https write_nginx_config
curl -sfk -o /dev/null "https://127.0.0.1:$ours_port/1k.html" || { echo "bench: http-server did not start" >&2; exit 1; }

port_of() { [ "$1" = ours ] && echo "$ours_port" || echo "$nginx_port"; }

wrk_run() { # SERVER PATH CONNS SECS -> "req/s MB/s"
    wrk -t2 -c"$3" -d"$4"s --timeout 10s -s scripts/bench/report.lua \
        "https://127.0.0.1:$(port_of "$1")$2" | sed -n 's/^RESULT //p' | awk '{print $1, $4}'
}

h2load_run() { # SERVER REQUESTS -> "req/s"
    h2load --h1 -n "$2" -c 50 -t 2 -H 'Connection: close' \
        "https://127.0.0.1:$(port_of "$1")/1k.html" |
        sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p'
}

results="$out/tls.tsv"
printf 'case\tserver\tpair\tthroughput\tunit\n' > "$results"
echo "https: http-server vs nginx $(nginx -v 2>&1 | sed 's/.*\///'): $cores cores, $(uname -r), $pairs pairs"
echo "  $(grep -o 'bodies: .*' "$out/tls/ours.err")"
for name in 1k-keepalive-c100 1k-newconn-c50 1m-c10; do
    for pair in $(seq 0 "$pairs"); do
        for server in ours nginx; do
            case $name in
                1k-keepalive-c100) read -r value _ <<< "$(wrk_run "$server" /1k.html 100 "$run_secs")"; unit=req/s ;;
                1k-newconn-c50) value="$(h2load_run "$server" "$newconn_requests")"; unit=req/s ;;
                1m-c10) read -r _ value <<< "$(wrk_run "$server" /1m.bin 10 "$run_secs")"; unit=MB/s ;;
            esac
            # Pair 0 warms both up and is not counted.
            [ "$pair" = 0 ] || printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$server" "$pair" "$value" "$unit" >> "$results"
        done
    done
    echo "  done: $name"
done

python3 - "$results" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
print(f"\n{'case':<20} {'unit':<6} {'ours':>10} {'nginx':>10} {'ratio':>6}  per pair")
for case in dict.fromkeys(r["case"] for r in rows):
    sel = [r for r in rows if r["case"] == case]
    by = lambda s: [float(r["throughput"] or 0) for r in sel if r["server"] == s]
    ours, nginx = by("ours"), by("nginx")
    ratios = [o / n if n else 0.0 for o, n in zip(ours, nginx)]
    print(f"{case:<20} {sel[0]['unit']:<6} {statistics.median(ours):>10.0f} {statistics.median(nginx):>10.0f} "
          f"{statistics.median(ratios):>5.2f}x  {' '.join(f'{r:.2f}' for r in ratios)}")
PY
echo
echo "results: $results"
