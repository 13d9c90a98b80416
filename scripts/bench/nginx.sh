# shellcheck shell=bash
# nginx as every benchmark runs it (sourced by scripts/bench.sh, scripts/bench/tls.sh and
# scripts/bench/compression.sh): one configuration tuned for speed, and, for the side
# benchmarks, a start on a free port that retries when the port is taken meanwhile.

# nginx_config DIR WORKERS NOFILE LISTEN ROOT [HTTP_LINES [SERVER_LINES]]
# Writes DIR/nginx.conf: access log off, sendfile with tcp_nopush, long keep-alive, its pid,
# error log and temporary files under DIR, one server on LISTEN (nginx's `listen` argument)
# serving ROOT, plus what the caller adds to the http block (HTTP_LINES) and to the server.
nginx_config() {
    local dir="$1" workers="$2" nofile="$3" listen="$4" root="$5"
    local http_lines="${6:-}" server_lines="${7:-}"
    cat > "$dir/nginx.conf" <<CONF
worker_processes $workers;
worker_rlimit_nofile $nofile;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 16384; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    keepalive_timeout 65s;
    default_type application/octet-stream;
    types { text/html html; text/javascript js; }
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
$http_lines
    server {
        listen $listen;
        root $root;
$server_lines
    }
}
CONF
}

# start_nginx PREFIX ERRFILE URL_SCHEME WRITE_CONFIG
# Starts nginx with PREFIX on a free 127.0.0.1 port, the config written by the command
# WRITE_CONFIG (called with the port), until it serves /1k.html (five tries: another process
# may take the port between the choice and the bind). Sets nginx_pid and nginx_port; exits
# the script with nginx's stderr if it never starts.
start_nginx() {
    local prefix="$1" err="$2" scheme="$3" write_config="$4" port
    nginx_port=""
    for _ in 1 2 3 4 5; do
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        mkdir -p "$prefix/logs" "$prefix/tmp"
        "$write_config" "$port"
        nginx -p "$prefix" -c "$prefix/nginx.conf" -g 'daemon off;' 2> "$err" &
        nginx_pid=$!
        sleep 0.5
        if kill -0 "$nginx_pid" 2>/dev/null && curl -sfk -o /dev/null "$scheme://127.0.0.1:$port/1k.html"; then
            # shellcheck disable=SC2034 # read by the scripts that source this file
            nginx_port=$port
            return 0
        fi
        kill "$nginx_pid" 2>/dev/null || true
        wait "$nginx_pid" 2>/dev/null || true
        nginx_pid=""
    done
    echo "bench: nginx did not start" >&2
    cat "$err" >&2
    exit 1
}
