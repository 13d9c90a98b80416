#!/usr/bin/env bash
# Same-run benchmark of http-server against nginx on this machine.
#
#   scripts/bench.sh            # every case, 3 A/B pairs of 10 s each (about 7 minutes:
#                               # 6 cases x 2 servers x (2 s warm-up + 3 x 10 s), then the idle test)
#   scripts/bench.sh --quick    # a 2-minute subset
#   scripts/bench.sh --tls      # HTTPS: keep-alive, new connections, 1 MiB (scripts/bench/tls.sh)
#   PAIRS=5 SECONDS_PER_RUN=20 scripts/bench.sh
#
# Installs wrk and nginx from Debian's packages when missing, serves one generated root from
# both (127.0.0.1 only), alternates them case by case (A B A B ...), prints medians and the
# ratio ours/nginx, and writes target/bench/results.tsv and target/bench/summary.json. Both
# servers are stopped by PID at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
# HTTPS cases against nginx with the same certificate: scripts/bench/tls.sh.
[ "${1:-}" = "--tls" ] && exec scripts/bench/tls.sh

quick=0
[ "${1:-}" = "--quick" ] && quick=1
pairs="${PAIRS:-3}"
run_secs="${SECONDS_PER_RUN:-10}"
warm_secs=2
idle_conns="${IDLE_CONNECTIONS:-10000}"
if [ "$quick" = 1 ]; then run_secs="${SECONDS_PER_RUN:-4}"; idle_conns="${IDLE_CONNECTIONS:-2000}"; fi
cores="$(nproc)"

# (ensure-tools keeps nginx's package from starting a system nginx.)
scripts/ensure-tools.sh wrk nginx python3
ulimit -n "$(ulimit -Hn)"

cargo build --release --quiet --bin http-server
bin="${CARGO_TARGET_DIR:-target}/release/http-server"
out=target/bench
root="$out/root"
mkdir -p "$root"
[ -s "$root/1k.html" ] || head -c 1024 /dev/urandom | base64 -w 76 | head -c 1024 > "$root/1k.html"
[ -s "$root/64k.bin" ] || head -c 65536 /dev/urandom > "$root/64k.bin"
[ -s "$root/100m.bin" ] || head -c 104857600 /dev/urandom > "$root/100m.bin"

prefix="$(mktemp -d)"
ours_pid=""; nginx_pid=""
cleanup() {
    for pid in $ours_pid $nginx_pid; do
        kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    done
    rm -rf "$prefix"
}
trap cleanup EXIT

"$bin" --port 0 --threads "$cores" --access-log off --idle-timeout 65s "$root" > "$out/ours.out" 2> "$out/ours.err" &
ours_pid=$!
for _ in $(seq 100); do grep -q '^listening on' "$out/ours.out" 2>/dev/null && break; sleep 0.1; done
ours_port="$(sed -n 's/^listening on http:\/\/127.0.0.1://p' "$out/ours.out")"

nginx_port=""
for _ in 1 2 3 4 5; do
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    mkdir -p "$prefix/logs" "$prefix/tmp"
    cat > "$prefix/nginx.conf" <<CONF
worker_processes $cores;
worker_rlimit_nofile 65536;
pid $prefix/nginx.pid;
error_log $prefix/logs/error.log warn;
events { worker_connections 16384; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    keepalive_timeout 65s;
    default_type application/octet-stream;
    types { text/html html; }
    client_body_temp_path $prefix/tmp/body;
    proxy_temp_path $prefix/tmp/proxy;
    fastcgi_temp_path $prefix/tmp/fastcgi;
    uwsgi_temp_path $prefix/tmp/uwsgi;
    scgi_temp_path $prefix/tmp/scgi;
    server {
        listen 127.0.0.1:$port;
        root $PWD/$root;
    }
}
CONF
    nginx -p "$prefix" -c "$prefix/nginx.conf" -g 'daemon off;' 2> "$out/nginx.err" &
    nginx_pid=$!
    sleep 0.5
    if kill -0 "$nginx_pid" 2>/dev/null && curl -sf -o /dev/null "http://127.0.0.1:$port/1k.html"; then
        nginx_port=$port; break
    fi
    kill "$nginx_pid" 2>/dev/null || true; wait "$nginx_pid" 2>/dev/null || true; nginx_pid=""
done
[ -n "$nginx_port" ] || { echo "bench: nginx did not start" >&2; cat "$out/nginx.err" >&2; exit 1; }
curl -sf -o /dev/null "http://127.0.0.1:$ours_port/1k.html" || { echo "bench: http-server did not start" >&2; exit 1; }

port_of() { [ "$1" = ours ] && echo "$ours_port" || echo "$nginx_port"; }
pids_of() { [ "$1" = ours ] && echo "$ours_pid" || echo "$nginx_pid $(pgrep -P "$nginx_pid" | tr '\n' ' ')"; }

wrk_run() { # SERVER PATH CONNS SECS [HEADER]
    local threads=2
    [ "$3" -lt 2 ] && threads=1
    local extra=()
    [ -n "${5:-}" ] && extra=(-H "$5")
    wrk -t"$threads" -c"$3" -d"$4"s --timeout 10s "${extra[@]}" -s scripts/bench/report.lua \
        "http://127.0.0.1:$(port_of "$1")$2" | sed -n 's/^RESULT //p'
}

results="$out/results.tsv"
printf 'case\tserver\tpair\tthroughput\tunit\tp99_ms\terrors\n' > "$results"
#        name        path       conns header
cases=("1k-keepalive-c10 /1k.html 10 -"
       "1k-keepalive-c100 /1k.html 100 -"
       "1k-keepalive-c1000 /1k.html 1000 -"
       "64k-c50 /64k.bin 50 -"
       "100m-c4 /100m.bin 4 -"
       "1k-close-c50 /1k.html 50 Connection:close")
[ "$quick" = 1 ] && cases=("${cases[1]}" "${cases[3]}" "${cases[5]}")

echo "http-server vs nginx $(nginx -v 2>&1 | sed 's/.*\///'): $cores cores, $(uname -r), $pairs pairs x ${run_secs}s per case"
for spec in "${cases[@]}"; do
    read -r name path conns header <<< "$spec"
    [ "$header" = - ] && header="" || header="${header/:/: }"
    unit="req/s"; column=1
    [[ "$name" == 100m* ]] && { unit="MB/s"; column=4; }
    for server in ours nginx; do wrk_run "$server" "$path" "$conns" "$warm_secs" "$header" > /dev/null; done
    for pair in $(seq "$pairs"); do
        for server in ours nginx; do
            read -r rps p99 errors mbps _ <<< "$(wrk_run "$server" "$path" "$conns" "$run_secs" "$header")"
            value=$rps; [ "$column" = 4 ] && value=$mbps
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$server" "$pair" "$value" "$unit" "$p99" "$errors" >> "$results"
        done
    done
    echo "  done: $name"
done

idle_results="$out/idle.tsv"
printf 'server\theld\tmedian_ms\tp99_ms\trss_mib\tpeak_mib\n' > "$idle_results"
for server in ours nginx; do
    # shellcheck disable=SC2046
    read -r held median p99 rss peak <<< "$(python3 scripts/bench/idle.py "$(port_of "$server")" "$idle_conns" $(pids_of "$server") | sed -n 's/^RESULT //p')"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$server" "$held" "$median" "$p99" "$rss" "$peak" >> "$idle_results"
done
echo "  done: idle-$idle_conns"

python3 - "$results" "$idle_results" "$out/summary.json" <<'PY'
import csv, json, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
idle = {r["server"]: r for r in csv.DictReader(open(sys.argv[2]), delimiter="\t")}
summary = {"cases": {}, "idle": idle}
print()
print(f"{'case':<20} {'unit':<6} {'ours':>10} {'nginx':>10} {'ratio':>6}  {'per pair':<22} {'p99 ours/nginx (ms)':<20} errors")
for case in dict.fromkeys(r["case"] for r in rows):
    sel = [r for r in rows if r["case"] == case]
    by = lambda s, k: [float(r[k]) for r in sel if r["server"] == s]
    ours, nginx = by("ours", "throughput"), by("nginx", "throughput")
    ratios = [o / n if n else 0.0 for o, n in zip(ours, nginx)]
    p99o, p99n = statistics.median(by("ours", "p99_ms")), statistics.median(by("nginx", "p99_ms"))
    errs = f"{int(sum(by('ours', 'errors')))}/{int(sum(by('nginx', 'errors')))}"
    unit = sel[0]["unit"]
    med = statistics.median(ratios)
    print(f"{case:<20} {unit:<6} {statistics.median(ours):>10.0f} {statistics.median(nginx):>10.0f} {med:>5.2f}x  "
          f"{' '.join(f'{r:.2f}' for r in ratios):<22} {p99o:.2f}/{p99n:.2f}{'':<10} {errs}")
    summary["cases"][case] = {"unit": unit, "ours": ours, "nginx": nginx, "ratios": ratios,
                              "median_ratio": med, "p99_ms": {"ours": p99o, "nginx": p99n}}
print()
for s in ("ours", "nginx"):
    r = idle[s]
    print(f"idle {s:<6} held {r['held']} connections; new client median {r['median_ms']} ms, p99 {r['p99_ms']} ms; "
          f"RSS {r['rss_mib']} MiB (peak {r['peak_mib']} MiB)")
json.dump(summary, open(sys.argv[3], "w"), indent=2)
PY
echo
echo "results: $results, $idle_results, $out/summary.json"
