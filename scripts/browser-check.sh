#!/usr/bin/env bash
# Checks that a real browser renders what the server serves: headless Chromium loads the start
# page and a directory listing; the access log must show the page's stylesheet and image served
# with 200, and the screenshots must not be blank. Screenshots are kept in target/browser-check/.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-tools.sh chromium python3
cargo build --quiet --bin http-server
bin="${CARGO_TARGET_DIR:-target}/debug/http-server"

out=target/browser-check
rm -rf "$out"; mkdir -p "$out"
work="$(mktemp -d)"
pid=""
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

cp -r www "$work/root"
mkdir -p "$work/root/files/sub"
echo "hello" > "$work/root/files/hello.txt"
echo "notes" > "$work/root/files/notes & more.md"

"$bin" --port 0 --listing "$work/root" > "$out/access.log" 2> "$out/server.err" &
pid=$!
for _ in $(seq 100); do
    grep -q '^listening on ' "$out/access.log" 2>/dev/null && break
    sleep 0.1
done
url="$(sed -n 's/^listening on //p' "$out/access.log")"
[ -n "$url" ] || { echo "browser-check: the server did not start" >&2; cat "$out/server.err" >&2; exit 1; }

shoot() { # URL PNG
    timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --hide-scrollbars --user-data-dir="$work/profile" --window-size=1024,768 \
        --screenshot="$2" "$1" > "$work/chromium.log" 2>&1 || {
        echo "browser-check: chromium failed on $1" >&2; cat "$work/chromium.log" >&2; exit 1; }
}
shoot "$url/" "$out/index.png"
shoot "$url/files/" "$out/listing.png"
sleep 0.3 # the access log is flushed at most 100 ms after each request

fail=0
expect_log() { # REQUEST-LINE
    if grep -q "\"$1\" 200 .*HeadlessChrome" "$out/access.log"; then
        echo "ok    $1 -> 200"
    else
        echo "FAIL  $1 was not served with 200 to the browser"; fail=1
    fi
}
expect_log "GET / HTTP/1.1"
expect_log "GET /style.css HTTP/1.1"
expect_log "GET /logo.svg HTTP/1.1"
expect_log "GET /files/ HTTP/1.1"

not_blank() { # PNG MIN-COLOURS MIN-INK
    read -r size colours ink < <(python3 scripts/png-stats.py "$1")
    if [ "$colours" -ge "$2" ] && python3 -c "import sys; sys.exit(0 if $ink >= $3 else 1)"; then
        echo "ok    $1: $size, $colours colours, ${ink} of the pixels drawn"
    else
        echo "FAIL  $1 looks blank: $size, $colours colours, ${ink} of the pixels drawn"; fail=1
    fi
}
not_blank "$out/index.png" 20 0.02
not_blank "$out/listing.png" 5 0.005

if [ "$fail" -ne 0 ]; then
    echo "browser-check: FAILED (server log in $out/)" >&2
    exit 1
fi
echo "browser-check: passed"
