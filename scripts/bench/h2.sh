#!/usr/bin/env bash
# HTTP/2 benchmark of http-server against h2o and nginx (issue 23), with h2load, over h2c (prior
# knowledge on a plain port) and over TLS (ALPN h2, the same ECDSA P-256 certificate for all);
# `scripts/bench.sh --h2` runs it. Cases:
#   1k-c10-m10   GET /1k.html, 10 connections x 10 streams in flight (multiplexed)   req/s
#   1k-c100-m1   GET /1k.html, 100 connections x 1 stream                            req/s
#   1k-c100-m10  GET /1k.html, 100 connections x 10 streams (DESIGN.md's TLS case)   req/s
#   1k-c100-m100 GET /1k.html, 100 connections x 100 streams (DESIGN.md's h2c case)  req/s
#   64k-c50      GET /64k.bin, 50 connections x 1 stream                             req/s
#   1m-c10       GET /1m.bin, 10 connections x 1 stream                              MB/s
#   idle         IDLE_CONNECTIONS connections, each made one request and left open: the growth
#                of the server's RSS (and PSS) per connection (scripts/bench/idle_h2.py)
#
#   scripts/bench/h2.sh                       # both modes, both transports, 3 rounds of 5 s
#   MODES=pinned TRANSPORTS=h2c ROUNDS=5 CASES="1k-c10-m10" IDLE_ROUNDS=0 scripts/bench/h2.sh
#   VARIANTS="before=target/bench/ab/before" PEERS= scripts/bench/h2.sh   # A/B of two builds
#
# Knobs (environment): ROUNDS (3), SECONDS_PER_RUN (5), WARMUP_SECONDS (1), MODES (pinned
# shared), TRANSPORTS (h2c tls), PEERS (h2o nginx), CASES (ids above), IDLE_CONNECTIONS (2000),
# IDLE_ROUNDS (1; 0 skips the idle case), VARIANTS (NAME=BINARY ...: other builds of ours,
# measured beside it, for an A/B comparison in the same run).
#
# Every server serves target/bench/root on 127.0.0.1, from its own prefix and config in a
# temporary directory, started in a process group of its own (setsid) and stopped by PID. Two
# modes: pinned (every server one worker on CPU 0, h2load -t1 on CPU 1) and shared (as many
# workers as cores, h2load -t2). In each mode, transport and case every server gets a warm-up
# run, then each round visits the servers in a rotated order; the tables give medians. The idle
# case starts every server afresh. Writes target/bench/h2-report.md (also printed), and every
# run in target/bench/h2-results.tsv and h2-idle.tsv.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/bench/nginx.sh
. scripts/bench/nginx.sh
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

me=h2bench
rounds="${ROUNDS:-3}" run_secs="${SECONDS_PER_RUN:-5}" warm_secs="${WARMUP_SECONDS:-1}"
idle_conns="${IDLE_CONNECTIONS:-2000}" idle_rounds="${IDLE_ROUNDS:-1}"
read -r -a modes <<< "${MODES:-pinned shared}"
read -r -a transports <<< "${TRANSPORTS:-h2c tls}"
read -r -a peers <<< "${PEERS-h2o nginx}"
read -r -a variants <<< "${VARIANTS:-}"
cores="$(nproc)"

# id | path | connections | streams per connection | unit
all_cases=(
    "1k-c10-m10|/1k.html|10|10|req/s"
    "1k-c100-m1|/1k.html|100|1|req/s"
    "1k-c100-m10|/1k.html|100|10|req/s"
    "1k-c100-m100|/1k.html|100|100|req/s"
    "64k-c50|/64k.bin|50|1|req/s"
    "1m-c10|/1m.bin|10|1|MB/s"
)
cases=()
for c in "${all_cases[@]}"; do
    [ -z "${CASES:-}" ] || [[ " $CASES " == *" ${c%%|*} "* ]] && cases+=("$c")
done
[ -z "${CASES:-}" ] || [ "${#cases[@]}" = "$(wc -w <<< "$CASES")" ] ||
    { echo "$me: unknown case in CASES=\"$CASES\" (one of: ${all_cases[*]%%|*})" >&2; exit 2; }
for m in "${modes[@]}"; do
    case "$m" in pinned | shared) ;; *) echo "$me: unknown mode $m (pinned, shared)" >&2; exit 2 ;; esac
done
for t in "${transports[@]}"; do
    case "$t" in h2c | tls) ;; *) echo "$me: unknown transport $t (h2c, tls)" >&2; exit 2 ;; esac
done
for p in "${peers[@]}"; do
    case "$p" in h2o | nginx) ;; *) echo "$me: unknown peer $p (h2o, nginx)" >&2; exit 2 ;; esac
done
declare -A variant_bin=()
for v in "${variants[@]}"; do
    [[ "$v" == ?*=?* ]] && [ -x "${v#*=}" ] ||
        { echo "$me: VARIANTS takes NAME=BINARY, an executable: $v" >&2; exit 2; }
    variant_bin[${v%%=*}]="${v#*=}"
done
if [ "$cores" -lt 2 ] && [[ " ${modes[*]} " == *" pinned "* ]]; then
    echo "$me: pinned mode needs two CPUs; this machine has $cores, skipping it" >&2
    read -r -a modes <<< "${modes[*]/pinned/}"
fi

scripts/ensure-tools.sh h2load:nghttp2-client curl openssl python3 taskset:util-linux "${peers[@]}"
ulimit -n "$(ulimit -Hn)"
fd_limit="$(ulimit -Hn)"
[ "$fd_limit" = unlimited ] || [ "$fd_limit" -gt 65536 ] && fd_limit=65536

cargo build --release --quiet --bin http-server
bin="${CARGO_TARGET_DIR:-target}/release/http-server"
out=target/bench
root="$PWD/$out/root"
mkdir -p "$root" "$out/tls"
[ -s "$root/1k.html" ] || head -c 1024 /dev/urandom | base64 -w 76 | head -c 1024 > "$root/1k.html"
[ -s "$root/64k.bin" ] || head -c 65536 /dev/urandom > "$root/64k.bin"
[ -s "$root/1m.bin" ] || head -c 1048576 /dev/urandom > "$root/1m.bin"
cert="$PWD/$out/tls/cert.pem" key="$PWD/$out/tls/key.pem"
# Made as tls.sh makes it, never committed.
[ -s "$key" ] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$key" -out "$cert" 2> /dev/null

tmp="$(mktemp -d "${TMPDIR:-/tmp}/http-server-h2bench.XXXXXX")"
declare -A pid=() port=()
cleanup() {
    local name
    for name in "${!pid[@]}"; do stop "$name"; done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- servers ----------------------------------------------------------------------------------
tree() { # PID: it and its descendants
    local child
    echo "$1"
    for child in $(pgrep -P "$1" || true); do tree "$child"; done
}

stop() { # NAME: SIGTERM to its process group and every process in it, SIGKILL after 5 s
    local procs p left
    [ -n "${pid[$1]:-}" ] || return 0
    read -r -a procs <<< "$(tree "${pid[$1]}" | tr '\n' ' ')"
    kill -TERM -- "-${pid[$1]}" "${procs[@]}" 2>/dev/null || true
    for _ in $(seq 50); do
        left=0
        for p in "${procs[@]}"; do [ -e "/proc/$p" ] && [ "$(ps -o stat= -p "$p")" != Z ] && left=1; done
        [ "$left" = 0 ] && break
        sleep 0.1
    done
    kill -KILL "${procs[@]}" 2>/dev/null || true
    wait "${pid[$1]}" 2>/dev/null || true
    unset "pid[$1]" "port[$1]"
}

write_config() { # NAME DIR PORT WORKERS TRANSPORT
    local name="$1" dir="$2" p="$3" workers="$4" transport="$5"
    case "$name" in
        nginx)
            # nginx 1.22 over h2c with sendfile on holds small responses back ~40 ms (2,200
            # req/s for 1 KiB on 100 connections, 60,000 with it off): off is its fast setting
            # (over TLS it has no sendfile anyway).
            local listen="127.0.0.1:$p http2" http_lines="    open_file_cache max=10000 inactive=60s;
    open_file_cache_valid 1s;
    http2_chunk_size 16k;" server_lines="        sendfile off;"
            if [ "$transport" = tls ]; then
                listen="127.0.0.1:$p ssl http2"
                http_lines+="
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;"
                server_lines="        ssl_certificate $cert;
        ssl_certificate_key $key;"
            fi
            nginx_config "$dir" "$workers" "$fd_limit" "$listen" "$root" "$http_lines" "$server_lines"
            ;;
        h2o)
            # h2o refuses to run as root without `user:`; it reads and writes files (no sendfile).
            cat > "$dir/h2o.conf" <<CONF
$([ "$(id -u)" != 0 ] || echo "user: $(id -un)")
pid-file: $dir/h2o.pid
error-log: $dir/logs/error.log
num-threads: $workers
max-connections: 16384
http2-idle-timeout: 65
listen:
  host: 127.0.0.1
  port: $p
$([ "$transport" = tls ] && printf '  ssl:\n    certificate-file: %s\n    key-file: %s\n' "$cert" "$key")
hosts:
  default:
    paths:
      /:
        file.dir: $root
CONF
            ;;
    esac
}

# Starts NAME (ours, a variant or a peer) with WORKERS workers (pinned: on CPU 0) speaking
# TRANSPORT, and waits until it serves /1k.html over HTTP/2 byte for byte; sets pid[NAME] and
# port[NAME], or says why not and returns 1.
start() { # NAME MODE WORKERS TRANSPORT
    local name="$1" mode="$2" workers="$3" transport="$4" dir="$tmp/$1" p="" cmd=() pin=() tls=()
    local scheme=http curl_h2=(--http2-prior-knowledge)
    [ "$mode" = pinned ] && pin=(taskset -c 0)
    [ "$transport" = tls ] && { scheme=https tls=(--tls-cert "$cert" --tls-key "$key") curl_h2=(--http2 -k); }
    rm -rf "$dir"
    mkdir -p "$dir/logs" "$dir/tmp"
    case "$name" in
        nginx | h2o) p="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
            write_config "$name" "$dir" "$p" "$workers" "$transport" ;;
    esac
    case "$name" in
        nginx) cmd=(nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;') ;;
        h2o) cmd=(h2o -c "$dir/h2o.conf") ;;
        *) cmd=("${variant_bin[$name]:-$bin}" --port 0 --threads "$workers" --access-log off
            --idle-timeout 65s --max-connections 16384 "${tls[@]}" "$root") ;;
    esac
    "${pin[@]}" setsid "${cmd[@]}" > "$dir/logs/stdout" 2> "$dir/logs/stderr" < /dev/null &
    pid[$name]=$!
    for _ in $(seq 100); do
        [ -e "/proc/${pid[$name]}" ] || break
        if [ -z "$p" ]; then
            p="$(listening_url "$dir/logs/stdout" 1)"
            p="${p##*:}"
        fi
        if [ -n "$p" ] && [ "$(curl -s "${curl_h2[@]}" --max-time 2 -o "$dir/check" -w '%{http_version}' \
            "$scheme://127.0.0.1:$p/1k.html" 2>/dev/null)" = 2 ] && cmp -s "$dir/check" "$root/1k.html"; then
            port[$name]="$p"
            return 0
        fi
        sleep 0.1
    done
    echo "$me: $name ($mode, $transport) did not serve /1k.html over HTTP/2 within 10 s; its logs:" >&2
    tail -n 5 "$dir"/logs/* >&2 || true
    stop "$name"
    return 1
}

# ---- measuring --------------------------------------------------------------------------------
cpu_ticks() { # NAME: user + system clock ticks of its processes so far
    local total=0 p fields
    for p in $(tree "${pid[$1]}"); do
        fields="$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null)" || continue
        read -r -a fields <<< "$fields"
        total=$((total + fields[11] + fields[12]))
    done
    echo "$total"
}
clock_ticks="$(getconf CLK_TCK)"

# h2load against NAME: prints "<req/s> <MB/s> <succeeded> <failed+errored+timeout> <non-2xx>".
h2load_run() { # NAME PATH CONNECTIONS STREAMS SECONDS SCHEME
    local threads="$h2load_threads"
    "${client_pin[@]}" h2load -c "$3" -m "$4" -t "$threads" -D "$5" \
        "$6://127.0.0.1:${port[$1]}$2" 2>> "$out/h2load.err" | awk '
        /^finished in/ { gsub(/,/, ""); rps = $4; mbps = $6; sub(/MB\/s/, "", mbps)
                         if ($6 ~ /KB\/s/) { sub(/KB\/s/, "", mbps); mbps /= 1024 }
                         if ($6 ~ /GB\/s/) { sub(/GB\/s/, "", mbps); mbps *= 1024 } }
        /^requests:/   { gsub(/,/, ""); ok = $8; bad = $10 + $12 + $14 }
        /^status codes:/ { gsub(/,/, ""); other = $5 + $7 + $9 }
        END { if (rps != "") print rps, mbps, ok, bad, other }'
}

rotate() { # OFFSET ITEM...: the items, starting at OFFSET modulo their number
    local offset="$1" i
    shift
    for ((i = 0; i < $#; i++)); do echo "${@:((i + offset) % $# + 1):1}"; done
}

{
    printf 'key\tvalue\n'
    printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf 'machine\t%s cores, %s, %s\n' "$cores" \
        "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" "$(uname -sr)"
    printf 'load at start\t%s\n' "$(cut -d ' ' -f 1-3 /proc/loadavg)"
    printf 'versions\t%s (%s), %s, %s, %s\n' "$("$bin" --version | head -n 1)" \
        "$(git describe --always --dirty 2>/dev/null || echo unknown)" \
        "$(h2o --version 2>/dev/null | head -n 1 | sed 's/ version /\//')" \
        "$(nginx -v 2>&1 | sed 's/^nginx version: //')" "$(h2load --version | head -n 1)"
    printf 'settings\t%s round(s) of %s s, warm-up %s s, idle %s connections\n' \
        "$rounds" "$run_secs" "$warm_secs" "$idle_conns"
} > "$out/h2-machine.tsv"
printf 'mode\ttransport\tcase\tserver\tround\tthroughput\tunit\tsucceeded\tfailed\tcpu_us\n' > "$out/h2-results.tsv"
printf 'mode\ttransport\tserver\tround\theld\trss_kib_per_conn\tpss_kib_per_conn\trss_mib\tpss_mib\n' > "$out/h2-idle.tsv"
: > "$out/h2load.err"
: > "$out/h2-failures.tsv"

servers=(ours "${!variant_bin[@]}" "${peers[@]}")
echo "$me: ${servers[*]}: ${modes[*]} x ${transports[*]}, ${#cases[@]} case(s), $rounds round(s) of ${run_secs}s, idle $idle_conns x $idle_rounds"
offset=0
for mode in "${modes[@]}"; do
    if [ "$mode" = pinned ]; then
        workers=1 h2load_threads=1 client_pin=(taskset -c 1)
    else
        workers="$cores" h2load_threads=2 client_pin=()
    fi
    for transport in "${transports[@]}"; do
        scheme=http
        [ "$transport" = tls ] && scheme=https
        up=()
        if [ "${#cases[@]}" -gt 0 ]; then
            for name in "${servers[@]}"; do
                if start "$name" "$mode" "$workers" "$transport"; then
                    up+=("$name")
                else
                    printf '%s\t%s\t%s\tdid not start\n' "$mode" "$transport" "$name" >> "$out/h2-failures.tsv"
                    [ "$name" != ours ] || exit 1
                fi
            done
        fi
        for spec in "${cases[@]}"; do
            IFS='|' read -r id path conns streams unit <<< "$spec"
            for name in "${up[@]}"; do
                h2load_run "$name" "$path" "$conns" "$streams" "$warm_secs" "$scheme" > /dev/null
            done
            for round in $(seq "$rounds"); do
                for name in $(rotate $((round + offset)) "${up[@]}"); do
                    [ -n "${pid[$name]:-}" ] || continue
                    ticks="$(cpu_ticks "$name")"
                    read -r rps mbps ok bad other <<< "$(h2load_run "$name" "$path" "$conns" "$streams" "$run_secs" "$scheme")" || true
                    ticks=$(($(cpu_ticks "$name") - ticks))
                    if [ -z "${rps:-}" ]; then
                        echo "$me: h2load gave no result for $name ($mode, $transport, $id); see $out/h2load.err" >&2
                        rps=nan mbps=nan ok=0 bad=nan other=nan
                    fi
                    cpu_us=nan
                    [ "${ok:-0}" -gt 0 ] && cpu_us="$(awk -v t="$ticks" -v hz="$clock_ticks" -v n="$ok" 'BEGIN { printf "%.2f", t / hz * 1e6 / n }')"
                    value="$rps"
                    [ "$unit" = MB/s ] && value="$mbps"
                    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$transport" "$id" "$name" \
                        "$round" "$value" "$unit" "$ok" "$((bad + other))" "$cpu_us" >> "$out/h2-results.tsv"
                    if [ ! -e "/proc/${pid[$name]}" ]; then
                        printf '%s\t%s\t%s\tdied during %s\n' "$mode" "$transport" "$name" "$id" >> "$out/h2-failures.tsv"
                        stop "$name"
                    fi
                done
            done
            echo "  $mode $transport: $id done"
            offset=$((offset + 1))
        done
        for name in "${up[@]}"; do stop "$name"; done

        # Idle connections, each server afresh: its memory before them is a baseline.
        for round in $(seq "$idle_rounds"); do
            for name in $(rotate $((round + offset)) "${servers[@]}"); do
                start "$name" "$mode" "$workers" "$transport" || continue
                # shellcheck disable=SC2046 # one argument per PID
                result="$("${client_pin[@]}" python3 scripts/bench/idle_h2.py "${port[$name]}" "$idle_conns" \
                    "$transport" $(tree "${pid[$name]}") 2>> "$out/h2-idle.err" | sed -n 's/^RESULT //p')" || true
                if [ -n "$result" ]; then
                    printf '%s\t%s\t%s\t%s\t%s\n' "$mode" "$transport" "$name" "$round" "${result// /$'\t'}" >> "$out/h2-idle.tsv"
                else
                    printf '%s\t%s\t%s\tidle case failed: %s\n' "$mode" "$transport" "$name" "$(tail -n 1 "$out/h2-idle.err")" >> "$out/h2-failures.tsv"
                fi
                stop "$name"
            done
        done
        [ "$idle_rounds" = 0 ] || echo "  $mode $transport: idle $idle_conns done"
    done
done
printf 'load at end\t%s\n' "$(cut -d ' ' -f 1-3 /proc/loadavg)" >> "$out/h2-machine.tsv"

python3 scripts/bench/h2_report.py "$out" | tee "$out/h2-report.md"
echo
echo "results: $out/h2-report.md, $out/h2-results.tsv, $out/h2-idle.tsv"
if [ -s "$out/h2-failures.tsv" ]; then
    echo "$me: not every server was measured:" >&2
    sed 's/^/  /' "$out/h2-failures.tsv" >&2
    exit 1
fi
