#!/usr/bin/env bash
# Checks that a real browser renders what the server serves: headless Chromium loads the start
# page and a directory listing; the access log must show the page's stylesheet and image served
# with 200, and the screenshots must not be blank. Then, for each of br, zstd and gzip, a page
# compressed on the fly must reach the browser compressed and be decoded (its text in the DOM).
# Screenshots are kept in target/browser-check/.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-tools.sh chromium python3
cargo build --quiet --bin http-server
bin="${CARGO_TARGET_DIR:-target}/debug/http-server"

out=target/browser-check
rm -rf "$out"; mkdir -p "$out"
work="$(mktemp -d)"
pid=""; cpid=""
cleanup() {
    for p in $pid $cpid; do
        if kill -0 "$p" 2>/dev/null; then kill -TERM "$p"; wait "$p" || true; fi
    done
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

# On-the-fly compression: a server offering one coding at a time; the page is compressed once
# its copy is in the cache (it has to settle for a second first), which curl waits for.
python3 -c 'import sys; print("<!doctype html><title>compressed</title>" + "".join(
    f"<p>paragraph {i}: the quick brown fox jumps over the lazy dog</p>" for i in range(200))
    + "<p id=\"end\">decoded-by-the-browser</p>")' > "$work/root/compressed.html"
page_size="$(stat -c %s "$work/root/compressed.html")"
for coding in br zstd gzip; do
    "$bin" --port 0 --compress "$coding" "$work/root" > "$out/compress-$coding.log" 2>> "$out/server.err" &
    cpid=$!
    for _ in $(seq 100); do grep -q '^listening on ' "$out/compress-$coding.log" 2>/dev/null && break; sleep 0.1; done
    curl_url="$(sed -n 's/^listening on //p' "$out/compress-$coding.log")/compressed.html"
    for _ in $(seq 50); do
        curl -s -o /dev/null -D - -H "Accept-Encoding: $coding" "$curl_url" |
            grep -qi "^content-encoding: $coding" && break
        sleep 0.1
    done
    timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$work/profile" --dump-dom "$curl_url" > "$work/dom.html" 2> "$work/chromium.log" || true
    sleep 0.3 # the access log is flushed at most 100 ms after each request
    sent="$(sed -n 's/.*"GET \/compressed.html HTTP\/1.1" 200 \([0-9]*\) .*HeadlessChrome.*/\1/p' "$out/compress-$coding.log" | tail -n 1)"
    if grep -q 'decoded-by-the-browser' "$work/dom.html" && [ -n "$sent" ] && [ "$sent" -lt "$page_size" ]; then
        echo "ok    $coding: the browser got $sent of $page_size bytes and rendered the page"
    else
        echo "FAIL  $coding: the browser got ${sent:-no} bytes of $page_size, or did not render the page"; fail=1
    fi
    kill -TERM "$cpid"; wait "$cpid" || true; cpid=""
done

if [ "$fail" -ne 0 ]; then
    echo "browser-check: FAILED (server log in $out/)" >&2
    exit 1
fi
echo "browser-check: passed"
