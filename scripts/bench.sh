#!/usr/bin/env bash
# Same-run benchmark of http-server against nginx, h2o, lighttpd and caddy on this machine.
#
#   scripts/bench.sh                # every case, both modes, 3 rounds of 5 s, then DESIGN.md's
#                                   # two HTTP/2 cases against h2o and nginx (about 35 minutes)
#   scripts/bench.sh --quick        # four cases, both modes, 1 round of 3 s (about 3 minutes)
#   scripts/bench.sh --tls          # HTTPS against nginx instead (scripts/bench/tls.sh)
#   scripts/bench.sh --h2           # HTTP/2 (h2c and TLS) against h2o and nginx instead, with
#                                   # h2load (scripts/bench/h2.sh, which has its own knobs)
#   scripts/bench.sh --compression  # on-the-fly compression and a burst of new files against
#                                   # nginx instead (scripts/bench/compression.sh)
#   ROUNDS=5 SECONDS_PER_RUN=10 scripts/bench.sh
#   PEERS="nginx h2o" MODES=pinned SECONDS_PER_RUN=2 scripts/bench.sh --quick
#
# Knobs (environment): ROUNDS, SECONDS_PER_RUN, WARMUP_SECONDS, IDLE_CONNECTIONS, IDLE_ROUNDS,
# MODES (pinned shared), PEERS (nginx h2o lighttpd caddy), CASES (ids from the table below, for
# example CASES="1k-close-c50 100m-c4"; IDLE_ROUNDS=0 skips the idle case), H2 (1; 0 skips the
# HTTP/2 cases, as --quick does).
#
# Installs wrk, gnuplot and the peers from Debian's packages when missing (scripts/ensure-tools.sh
# keeps the packages from starting a system service), generates one root (target/bench/root) and
# serves it on 127.0.0.1 from every server, each with its own prefix, config, pid file and logs
# in a temporary directory, started in its own process group and stopped by PID.
#
# Two modes: pinned (every server one worker on CPU 0, wrk one thread on CPU 1: per-core
# efficiency) and shared (every server as many workers as cores, wrk -t2, all cores shared).
# In each mode and case every server gets a warm-up run, then each round visits the servers in
# a rotated order; the tables give medians. In the 1 KiB c=100 case a second instance of ours,
# with the combined access log on (stdout to /dev/null), runs beside the others; in the
# Connection: close case a third, on a socket with TCP_DEFER_ACCEPT. Then each
# server is started afresh for the idle case (IDLE_CONNECTIONS idle keep-alive connections:
# resident and peak memory, a new client's latency; scripts/bench/idle.py).
#
# Writes to target/bench/: report.md (the machine and the tables, also printed), chart.png and
# chart.svg (throughput per case and server relative to ours), readme.md (ours / best peer per
# case and mode, for the README), results.tsv and idle.tsv (every run), summary.json, machine.tsv. A server that fails to start or dies is reported, left out,
# and makes the exit status 1; its prefix is kept in target/bench/failed/.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench/nginx.sh
. scripts/bench/nginx.sh

me="bench"
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
quick=0
for arg in "$@"; do
    case "$arg" in
        --quick) quick=1 ;;
        --tls) exec scripts/bench/tls.sh ;; # HTTPS against nginx with the same certificate
        --h2) exec scripts/bench/h2.sh ;;
        --compression) exec scripts/bench/compression.sh ;;
        -h | --help) usage; exit 0 ;;
        *) echo "$me: unknown argument $arg (see --help)" >&2; exit 2 ;;
    esac
done

if [ "$quick" = 1 ]; then
    rounds="${ROUNDS:-1}" run_secs="${SECONDS_PER_RUN:-3}" warm_secs="${WARMUP_SECONDS:-1}"
    idle_conns="${IDLE_CONNECTIONS:-2000}"
else
    rounds="${ROUNDS:-3}" run_secs="${SECONDS_PER_RUN:-5}" warm_secs="${WARMUP_SECONDS:-2}"
    idle_conns="${IDLE_CONNECTIONS:-10000}"
fi
idle_rounds="${IDLE_ROUNDS:-1}"
read -r -a modes <<< "${MODES:-pinned shared}"
read -r -a peers <<< "${PEERS-nginx h2o lighttpd caddy}"
for mode in "${modes[@]}"; do
    case "$mode" in pinned | shared) ;; *) echo "$me: unknown mode $mode (pinned, shared)" >&2; exit 2 ;; esac
done
for peer in "${peers[@]}"; do
    case "$peer" in nginx | h2o | lighttpd | caddy) ;; *) echo "$me: unknown peer $peer (nginx, h2o, lighttpd, caddy)" >&2; exit 2 ;; esac
done
cores="$(nproc)"
if [ "$cores" -lt 2 ] && [[ " ${modes[*]} " == *" pinned "* ]]; then
    echo "$me: pinned mode needs two CPUs (servers on CPU 0, wrk on CPU 1); this machine has $cores, skipping it" >&2
    read -r -a modes <<< "${modes[*]/pinned/}"
fi

# id | path | connections | request header | label | unit
all_cases=(
    "1k-c100|/1k.html|100||1 KiB keep-alive c=100|req/s"
    "1k-c1000|/1k.html|1000||1 KiB keep-alive c=1000|req/s"
    "64k-c50|/64k.bin|50||64 KiB c=50|req/s"
    "1k-close-c50|/1k.html|50|Connection: close|1 KiB Connection: close c=50|req/s"
    "1m-c10|/1m.bin|10||1 MiB c=10|req/s"
    "100m-c4|/100m.bin|4||100 MiB c=4|MB/s"
)
if [ -n "${CASES:-}" ]; then
    cases=()
    for id in $CASES; do
        for c in "${all_cases[@]}"; do
            if [ "${c%%|*}" = "$id" ]; then cases+=("$c"); fi
        done
        if [ "${#cases[@]}" = 0 ] || [ "${cases[-1]%%|*}" != "$id" ]; then
            echo "$me: unknown case $id (one of: ${all_cases[*]%%|*})" >&2
            exit 2
        fi
    done
elif [ "$quick" = 1 ]; then
    cases=("${all_cases[0]}" "${all_cases[2]}" "${all_cases[3]}" "${all_cases[4]}")
else
    cases=("${all_cases[@]}")
fi

# Variants of ours, each measured in one case only: with the combined access log on, and on a
# listening socket with TCP_DEFER_ACCEPT (what systemd's DeferAcceptSec= gives it; the server
# sets that option on sockets it binds too, so this is an inherited socket's line now, see
# docs/benchmarks.md).
variants=(ours+log ours+defer)
declare -A variant_case=([ours+log]=1k-c100 [ours+defer]=1k-close-c50)

# ensure-tools installs in one apt-get call; if that fails, find out which peer cannot be had.
base_tools=(wrk curl python3 taskset:util-linux gnuplot:gnuplot-nox)
declare -A unavailable=()
if ! scripts/ensure-tools.sh "${base_tools[@]}" "${peers[@]}"; then
    scripts/ensure-tools.sh "${base_tools[@]}"
    for peer in "${peers[@]}"; do
        scripts/ensure-tools.sh "$peer" || unavailable[$peer]="could not be installed (Debian package $peer)"
    done
fi
ulimit -n "$(ulimit -Hn)"
# Every server may open this many files (nginx and lighttpd are told; the others raise their soft
# limit to the hard one themselves). lighttpd serves at most half of it as connections.
fd_limit="$(ulimit -Hn)"
[ "$fd_limit" = unlimited ] || [ "$fd_limit" -gt 65536 ] && fd_limit=65536
lighttpd_connections=$((fd_limit / 2 < 16384 ? fd_limit / 2 : 16384))

cargo build --release --quiet --bin http-server
bin="${CARGO_TARGET_DIR:-target}/release/http-server"
out=target/bench
root="$PWD/$out/root"
mkdir -p "$root"
[ -s "$root/1k.html" ] || head -c 1024 /dev/urandom | base64 -w 76 | head -c 1024 > "$root/1k.html"
[ -s "$root/64k.bin" ] || head -c 65536 /dev/urandom > "$root/64k.bin"
[ -s "$root/1m.bin" ] || head -c 1048576 /dev/urandom > "$root/1m.bin"
[ -s "$root/100m.bin" ] || head -c 104857600 /dev/urandom > "$root/100m.bin"
rm -rf "$out/failed" "$out/chart.png" "$out/chart.svg"
rm -f "$out"/chart-*.dat "$out/chart-vars.gp"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/http-server-bench.XXXXXX")"
declare -A pid=() port=()
cleanup() {
    local name
    for name in "${!pid[@]}"; do stop_server "$name"; done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- machine and settings ---------------------------------------------------------------------
first_line() { "$@" 2>&1 | head -n 1 || true; }
{
    printf 'key\tvalue\n'
    printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf 'cores\t%s\n' "$cores"
    printf 'cpu\t%s\n' "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
    printf 'memory\t%s\n' "$(awk '/^MemTotal:/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
    printf 'kernel\t%s\n' "$(uname -sr)"
    printf 'os\t%s\n' "$(sed -n 's/^PRETTY_NAME="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' /etc/os-release 2>/dev/null)"
    printf 'load at start\t%s\n' "$(cut -d ' ' -f 1-3 /proc/loadavg)"
    printf 'ours\t%s (%s)\n' "$(first_line "$bin" --version)" "$(git describe --always --dirty 2>/dev/null || echo unknown)"
    for peer in "${peers[@]}"; do
        [ -z "${unavailable[$peer]:-}" ] || continue
        case "$peer" in
            nginx) printf 'nginx\t%s\n' "$(first_line nginx -v | sed 's/^nginx version: //')" ;;
            h2o) printf 'h2o\t%s\n' "$(first_line h2o --version | sed 's/ version /\//')" ;;
            lighttpd) printf 'lighttpd\t%s\n' "$(first_line lighttpd -v | sed 's/ .*//')" ;;
            caddy) printf 'caddy\t%s\n' "caddy/$(first_line caddy version | sed 's/ .*//')" ;;
        esac
    done
    printf 'wrk\t%s\n' "$(first_line wrk -v | sed 's/ \[.*//')"
    printf 'gnuplot\t%s\n' "$(first_line gnuplot --version)"
} > "$out/machine.tsv"
{
    printf 'key\tvalue\n'
    printf 'quick\t%s\nrounds\t%s\nseconds_per_run\t%s\nwarmup_seconds\t%s\n' "$quick" "$rounds" "$run_secs" "$warm_secs"
    printf 'idle_connections\t%s\nidle_rounds\t%s\nmodes\t%s\npeers\t%s\ncores\t%s\n' \
        "$idle_conns" "$idle_rounds" "${modes[*]}" "${peers[*]}" "$cores"
} > "$out/settings.tsv"
{
    printf 'id\tpath\tconnections\theader\tlabel\tunit\n'
    printf '%s\n' "${cases[@]}" | tr '|' '\t'
} > "$out/cases.tsv"
printf 'mode\tcase\tserver\tround\tthroughput\tunit\tp99_ms\terrors\trequests\tcpu_us\n' > "$out/results.tsv"
printf 'mode\tserver\tround\tconnections\theld\tmedian_ms\tp99_ms\trss_mib\tpeak_mib\tpss_mib\n' > "$out/idle.tsv"
printf 'mode\tserver\twhat\n' > "$out/failures.tsv"
for peer in "${!unavailable[@]}"; do
    for mode in "${modes[@]}"; do printf '%s\t%s\t%s\n' "$mode" "$peer" "${unavailable[$peer]}" >> "$out/failures.tsv"; done
done

# ---- servers ----------------------------------------------------------------------------------
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

alive() { # PID: running and not a zombie
    local state
    state="$(ps -o stat= -p "$1" 2>/dev/null)" || return 1
    [[ "$state" != Z* ]]
}

descendants() {
    local child
    for child in $(pgrep -P "$1" || true); do
        echo "$child"
        descendants "$child"
    done
}

# Every server runs in a process group of its own (setsid), so that a master that signals its
# group (lighttpd's) reaches only its workers, and stopping it reaches forked workers too.
stop_server() { # NAME
    local name="$1" main="${pid[$1]:-}" procs p
    [ -n "$main" ] || return 0
    read -r -a procs <<< "$main $(descendants "$main" | tr '\n' ' ')"
    kill -TERM -- "-$main" 2>/dev/null || true
    kill -TERM "${procs[@]}" 2>/dev/null || true
    for _ in $(seq 50); do
        local left=0
        for p in "${procs[@]}"; do alive "$p" && left=1; done
        [ "$left" = 0 ] && break
        sleep 0.1
    done
    for p in "${procs[@]}"; do
        if alive "$p"; then
            echo "$me: $name (pid $p) did not stop on SIGTERM; killing it" >&2
            kill -KILL "$p" 2>/dev/null || true
        fi
    done
    wait "$main" 2>/dev/null || true
    unset "pid[$name]"
}

write_config() { # NAME DIR PORT WORKERS
    local name="$1" dir="$2" p="$3" workers="$4"
    case "$name" in
        nginx)
            nginx_config "$dir" "$workers" "$fd_limit" "127.0.0.1:$p reuseport" "$root" \
                "    open_file_cache max=10000 inactive=60s;
    open_file_cache_valid 1s;"
            ;;
        h2o)
            # h2o refuses to run as root without `user:`; it has no sendfile (it reads and writes).
            cat > "$dir/h2o.conf" <<CONF
$([ "$(id -u)" != 0 ] || echo "user: $(id -un)")
pid-file: $dir/h2o.pid
error-log: $dir/logs/error.log
num-threads: $workers
max-connections: 16384
http1-request-timeout: 65
listen:
  host: 127.0.0.1
  port: $p
hosts:
  default:
    paths:
      /:
        file.dir: $root
CONF
            ;;
        lighttpd)
            # server.max-worker forks that many workers (0: the one process serves).
            cat > "$dir/lighttpd.conf" <<CONF
server.document-root = "$root"
server.bind = "127.0.0.1"
server.port = $p
server.pid-file = "$dir/lighttpd.pid"
server.errorlog = "$dir/logs/error.log"
server.max-worker = $([ "$workers" -gt 1 ] && echo "$workers" || echo 0)
server.max-fds = $fd_limit
server.max-connections = $lighttpd_connections
server.max-keep-alive-requests = 100000
server.max-keep-alive-idle = 65
server.network-backend = "sendfile"
server.modules = ("mod_indexfile", "mod_staticfile")
index-file.names = ("index.html")
mimetype.assign = (".html" => "text/html", "" => "application/octet-stream")
CONF
            ;;
        caddy)
            cat > "$dir/Caddyfile" <<CONF
{
	admin off
	auto_https off
	servers {
		protocols h1
		timeouts {
			idle 65s
		}
	}
}
http://127.0.0.1:$p {
	root * $root
	file_server
}
CONF
            ;;
    esac
}

# Starts NAME with WORKERS workers (pinned: on CPU 0) and waits until it serves /1k.html
# byte for byte; sets pid[NAME] and port[NAME]. Returns 1, with the reason in start_error, if not.
start_server() { # NAME MODE WORKERS
    local name="$1" mode="$2" workers="$3" dir="$tmp/$2-$1" p stdout cmd=()
    local pin=()
    [ "$mode" = pinned ] && pin=(taskset -c 0)
    start_error=""
    for _ in 1 2 3; do
        rm -rf "$dir"
        mkdir -p "$dir/logs" "$dir/tmp"
        p="$(free_port)"
        stdout="$dir/logs/stdout"
        case "$name" in
            ours) cmd=("$bin" --port 0 --threads "$workers" --access-log off --idle-timeout 65s
                --max-connections 16384 "$root") ;;
            ours+log) cmd=("$bin" --port "$p" --threads "$workers" --access-log combined
                --idle-timeout 65s --max-connections 16384 "$root")
                stdout=/dev/null ;;
            ours+defer) cmd=(python3 scripts/bench/deferred.py "$p" "$bin" --threads "$workers"
                --access-log off --idle-timeout 65s --max-connections 16384 "$root")
                stdout=/dev/null ;;
            nginx) cmd=(nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;') ;;
            h2o) cmd=(h2o -c "$dir/h2o.conf") ;;
            lighttpd) cmd=(lighttpd -D -f "$dir/lighttpd.conf") ;;
            caddy) cmd=(env HOME="$dir" XDG_CONFIG_HOME="$dir/config" XDG_DATA_HOME="$dir/data"
                GOMAXPROCS="$workers" caddy run --config "$dir/Caddyfile" --adapter caddyfile) ;;
        esac
        write_config "$name" "$dir" "$p" "$workers"
        printf '%s\n' "${pin[*]} setsid ${cmd[*]}" > "$dir/command"
        "${pin[@]}" setsid "${cmd[@]}" > "$stdout" 2> "$dir/logs/stderr" < /dev/null &
        pid[$name]=$!
        local ready=0
        for _ in $(seq 100); do
            alive "${pid[$name]}" || break
            if [ "$name" = ours ]; then
                p="$(sed -n 's|^listening on http://127\.0\.0\.1:||p' "$stdout" | head -n 1)"
                [ -n "$p" ] || { sleep 0.1; continue; }
            fi
            if curl -sf --max-time 2 -o "$dir/check" "http://127.0.0.1:$p/1k.html" 2>/dev/null; then
                ready=1
                break
            fi
            sleep 0.1
        done
        if [ "$ready" = 1 ] && [ "$(ps -o pgid= -p "${pid[$name]}" | tr -d ' ')" != "${pid[$name]}" ]; then
            echo "$me: $name (pid ${pid[$name]}) is not in a process group of its own; stopping" >&2
            exit 1
        fi
        if [ "$ready" = 1 ] && cmp -s "$dir/check" "$root/1k.html"; then
            port[$name]="$p"
            return 0
        fi
        if [ "$ready" = 1 ]; then
            start_error="serves /1k.html with different bytes"
        elif alive "${pid[$name]}"; then
            start_error="did not answer on 127.0.0.1:$p within 10 s"
        else
            local status=0
            wait "${pid[$name]}" 2>/dev/null || status=$?
            start_error="exited with status $status"
        fi
        stop_server "$name"
        grep -qsi 'address already in use' "$dir"/logs/* || break
    done
    mkdir -p "$out/failed"
    rm -rf "${out:?}/failed/$mode-$name"
    cp -r "$dir" "$out/failed/$mode-$name"
    return 1
}

failed() { # MODE NAME WHAT
    printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$out/failures.tsv"
    echo "$me: $2 ($1 mode) $3" >&2
}

report_start_failure() { # MODE NAME
    local dir="$out/failed/$1-$2" f
    failed "$1" "$2" "did not start: $start_error; its prefix, config and logs are in $dir"
    for f in "$dir/logs/stderr" "$dir/logs/error.log" "$dir/logs/stdout"; do
        [ -s "$f" ] || continue
        echo "  ${f#"$dir"/}:" >&2
        tail -n 5 "$f" | sed 's/^/    /' >&2
    done
}

# ---- measuring --------------------------------------------------------------------------------
wrk_run() { # PORT PATH CONNECTIONS SECONDS HEADER: prints "<req/s> <p99 ms> <errors> <MB/s> <requests>"
    local threads="$wrk_threads" extra=()
    [ "$3" -lt "$threads" ] && threads="$3"
    [ -n "$5" ] && extra=(-H "$5")
    "${client_pin[@]}" wrk -t"$threads" -c"$3" -d"$4"s --timeout 10s "${extra[@]}" \
        -s scripts/bench/report.lua "http://127.0.0.1:$1$2" 2>> "$out/wrk.err" | sed -n 's/^RESULT //p'
}

# CPU time (user + system, clock ticks) used so far by a server: its main process and every
# descendant (nginx's and lighttpd's workers, h2o's server process).
cpu_ticks() { # NAME
    local total=0 p fields
    for p in ${pid[$1]} $(descendants "${pid[$1]}"); do
        # Fields after the command name, which is in parentheses and may hold spaces.
        fields="$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null)" || continue
        read -r -a fields <<< "$fields"
        total=$((total + fields[11] + fields[12]))
    done
    echo "$total"
}
clock_ticks="$(getconf CLK_TCK)"

rotate() { # OFFSET ITEM...: the items, starting at OFFSET modulo their number
    local offset="$1" i
    shift
    for ((i = 0; i < $#; i++)); do
        local j=$(((i + offset) % $#))
        echo "${@:j+1:1}"
    done
}

runs=0
for spec in "${cases[@]}"; do
    runs=$((runs + ${#peers[@]} + 1))
    for variant in "${variants[@]}"; do
        [[ "$spec" == "${variant_case[$variant]}|"* ]] && runs=$((runs + 1))
    done
done
# In tenths of a second: each wrk run costs about 0.15 s more than its duration, an idle case
# about 1 s plus 0.2 s per 1,000 connections, the rest about 5 s (measured on 2 cores).
tenths=$((${#modes[@]} * (runs * (warm_secs * 20 + 3 + rounds * (run_secs * 20 + 3)) / 2 +
    idle_rounds * (${#peers[@]} + 1) * (10 + idle_conns / 500)) + 50))
minutes="$(awk -v t="$tenths" 'BEGIN {m = t / 600; printf (m < 10 ? "%.1f" : "%.0f"), m}')"
echo "$me: http-server against ${peers[*]:-no peers}: ${modes[*]} mode(s), ${#cases[@]} cases, $rounds round(s) of ${run_secs}s, idle $idle_conns; about $minutes minutes"
: > "$out/wrk.err"

case_index=0
mode_index=0
for mode in "${modes[@]}"; do
    if [ "$mode" = pinned ]; then
        workers=1 wrk_threads=1 client_pin=(taskset -c 1)
    else
        workers="$cores" wrk_threads=2 client_pin=()
    fi
    up=()
    for name in ours "${variants[@]}" "${peers[@]}"; do
        [ -z "${unavailable[$name]:-}" ] || continue
        if [ -n "${variant_case[$name]:-}" ] && [[ " ${cases[*]%%|*} " != *" ${variant_case[$name]} "* ]]; then
            continue
        fi
        if start_server "$name" "$mode" "$workers"; then
            up+=("$name")
        elif [[ "$name" == ours* ]]; then
            report_start_failure "$mode" "$name"
            echo "$me: cannot benchmark without $name" >&2
            exit 1
        else
            report_start_failure "$mode" "$name"
        fi
    done
    echo "$me: $mode mode: ${up[*]} serving ($workers worker(s) each$([ "$mode" = pinned ] && echo ', on CPU 0; wrk on CPU 1'))"

    for spec in "${cases[@]}"; do
        IFS='|' read -r id path conns header label unit <<< "$spec"
        servers=()
        for name in "${up[@]}"; do
            [ -z "${variant_case[$name]:-}" ] || [ "$id" = "${variant_case[$name]}" ] || continue
            [ -n "${pid[$name]:-}" ] && servers+=("$name")
        done
        for name in "${servers[@]}"; do
            wrk_run "${port[$name]}" "$path" "$conns" "$warm_secs" "$header" > /dev/null
        done
        for round in $(seq "$rounds"); do
            for name in $(rotate $((round - 1 + case_index)) "${servers[@]}"); do
                [ -n "${pid[$name]:-}" ] || continue
                ticks="$(cpu_ticks "$name")"
                read -r rps p99 errors mbps requests <<< "$(wrk_run "${port[$name]}" "$path" "$conns" "$run_secs" "$header")" || true
                ticks=$(($(cpu_ticks "$name") - ticks))
                cpu_us=nan
                if [ "${requests:-0}" -gt 0 ]; then
                    cpu_us="$(awk -v t="$ticks" -v hz="$clock_ticks" -v n="$requests" 'BEGIN { printf "%.2f", t / hz * 1e6 / n }')"
                fi
                if [ -z "${rps:-}" ]; then
                    rps=nan p99=nan errors=nan mbps=nan requests=0 cpu_us=nan
                    echo "$me: wrk gave no result for $name, $label ($mode); see $out/wrk.err" >&2
                fi
                value="$rps"
                [ "$unit" = "MB/s" ] && value="$mbps"
                printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$id" "$name" "$round" "$value" "$unit" "$p99" "$errors" "$requests" "$cpu_us" >> "$out/results.tsv"
                if ! alive "${pid[$name]}"; then
                    failed "$mode" "$name" "died during $label, round $round; its logs: $tmp/$mode-$name/logs (removed at exit)"
                    mkdir -p "$out/failed"
                    cp -r "$tmp/$mode-$name" "$out/failed/$mode-$name"
                    stop_server "$name"
                fi
            done
        done
        echo "  $mode: $label done"
        case_index=$((case_index + 1))
    done
    for name in "${up[@]}"; do stop_server "$name"; done

    # Idle connections on fresh instances: peak RSS would otherwise be the cases' high-water mark.
    for round in $(seq "$idle_rounds"); do
        idle_servers=()
        for name in "${up[@]}"; do [ -n "${variant_case[$name]:-}" ] || idle_servers+=("$name"); done
        for name in $(rotate $((round - 1 + mode_index)) "${idle_servers[@]}"); do
            if ! start_server "$name" "$mode" "$workers"; then
                report_start_failure "$mode" "$name"
                continue
            fi
            conns="$idle_conns"
            if [ "$name" = lighttpd ] && [ "$conns" -gt $((lighttpd_connections - 2)) ]; then
                conns=$((lighttpd_connections - 2)) # room for the new clients
                echo "$me: lighttpd holds $conns idle connections, not $idle_conns: it serves at most half its open-file limit ($fd_limit) as connections" >&2
            fi
            # shellcheck disable=SC2046 # one argument per PID
            result="$("${client_pin[@]}" python3 scripts/bench/idle.py "${port[$name]}" "$conns" \
                "${pid[$name]}" $(descendants "${pid[$name]}") 2> "$tmp/idle.err" | sed -n 's/^RESULT //p')" || true
            cat "$tmp/idle.err" >> "$out/idle.err"
            if [ -n "$result" ]; then
                read -r held median p99 rss peak pss <<< "$result"
                printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$name" "$round" "$conns" "$held" "$median" "$p99" "$rss" "$peak" "$pss" >> "$out/idle.tsv"
            else
                mkdir -p "$out/failed"
                rm -rf "${out:?}/failed/$mode-$name"
                cp -r "$tmp/$mode-$name" "$out/failed/$mode-$name"
                failed "$mode" "$name" "idle case failed: $(tail -n 1 "$tmp/idle.err"); its prefix and logs are in $out/failed/$mode-$name"
            fi
            stop_server "$name"
        done
    done
    echo "  $mode: idle $idle_conns done"
    mode_index=$((mode_index + 1))
done
printf 'load at end\t%s\n' "$(cut -d ' ' -f 1-3 /proc/loadavg)" >> "$out/machine.tsv"

# ---- report -----------------------------------------------------------------------------------
echo
python3 scripts/bench/summarize.py "$out" | tee "$out/report.md"
for fmt in png svg; do
    gnuplot -e "dir='$out'; fmt='$fmt'" scripts/bench/chart.gp 2>> "$out/gnuplot.err" ||
        echo "$me: gnuplot could not draw $out/chart.$fmt; see $out/gnuplot.err" >&2
done
echo
echo "results: $out/report.md, $out/chart.png, $out/chart.svg, $out/readme.md, $out/results.tsv, $out/idle.tsv, $out/summary.json"

# ---- HTTP/2 -----------------------------------------------------------------------------------
# DESIGN.md's HTTP/2 cases, 1 KiB on 100 connections with 10 and with 100 streams each, over h2c
# and TLS, with h2load against h2o and nginx (make bench-h2 runs every case of h2.sh).
h2_status=0
if [ "${H2:-1}" = 1 ] && [ "$quick" = 0 ]; then
    echo
    ROUNDS="$rounds" SECONDS_PER_RUN="$run_secs" MODES="${modes[*]}" PEERS="h2o nginx" \
        CASES="1k-c100-m10 1k-c100-m100" TRANSPORTS="h2c tls" IDLE_ROUNDS=0 VARIANTS= \
        scripts/bench/h2.sh || h2_status=$?
fi
if [ "$(wc -l < "$out/failures.tsv")" -gt 1 ]; then
    echo "$me: not every server was measured:" >&2
    tail -n +2 "$out/failures.tsv" | sed 's/^\([^\t]*\)\t\([^\t]*\)\t/  \2 (\1 mode): /' >&2
    exit 1
fi
exit "$h2_status"
