#!/usr/bin/env bash
# Checks that a real browser fetches the site over HTTPS: headless Chromium loads the start
# page from a server run with --tls-cert (an ECDSA certificate made here for localhost, never
# committed) and --hsts. Chromium is told to trust that one certificate by the SHA-256 of its
# public key (--ignore-certificate-errors-spki-list), so no certificate store is touched. The
# access log must show the page and its stylesheet served with 200 to HeadlessChrome over TLS and
# HTTP/2 (chosen by ALPN), a page's own nextHopProtocol must say h2, a page of 100 images
# (scripts/bench/assets_page.py) must load every one of them over h2, and the screenshot
# (target/browser-check-tls/index.png) must not be blank.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
me=browser-check-tls

scripts/ensure-tools.sh chromium openssl python3
cargo build --quiet --bin http-server
bin="${CARGO_TARGET_DIR:-target}/debug/http-server"

out=target/browser-check-tls
rm -rf "$out"; mkdir -p "$out"
work="$(mktemp -d)"
pid=""
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$work/key.pem" -out "$work/cert.pem" 2> /dev/null
spki="$(openssl x509 -in "$work/cert.pem" -pubkey -noout | openssl pkey -pubin -outform der |
    openssl dgst -sha256 -binary | base64)"

# The site plus a page that writes the protocol the browser used for it into its title.
cp -r www "$work/site"
cat > "$work/site/protocol.html" <<'HTML'
<!doctype html><title>?</title>
<script>document.title = performance.getEntriesByType("navigation")[0].nextHopProtocol;</script>
HTML
python3 scripts/bench/assets_page.py "$work/site" 100
"$bin" --port 0 --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" --hsts 600 "$work/site" \
    > "$out/access.log" 2> "$out/server.err" &
pid=$!
url="$(listening_url "$out/access.log")"
port="${url##*:}"
[ "${url%:*}" = https://127.0.0.1 ] || { echo "browser-check-tls: the server did not start" >&2; cat "$out/server.err" >&2; exit 1; }

chromium_run 1024 768 --ignore-certificate-errors-spki-list="$spki" \
    --screenshot="$out/index.png" "https://localhost:$port/" > /dev/null
protocol="$(chromium_run 800 600 --ignore-certificate-errors-spki-list="$spki" --dump-dom \
    "https://localhost:$port/protocol.html" | sed -n 's|.*<title>\(.*\)</title>.*|\1|p')"
assets="$(chromium_run 800 600 --ignore-certificate-errors-spki-list="$spki" --dump-dom \
    "https://localhost:$port/assets.html" | sed -n 's|.*<title>\(.*\)</title>.*|\1|p')"
sleep 0.3 # the access log is flushed at most 100 ms after each request

fail=0
for line in "GET / HTTP/2.0" "GET /style.css HTTP/2.0"; do
    if grep -q "\"$line\" 200 .*HeadlessChrome.* TLSv1\.[23]$" "$out/access.log"; then
        echo "ok    $line -> 200 over TLS"
    else
        echo "FAIL  $line was not served with 200 over TLS to the browser"; fail=1
    fi
done
if [ "$protocol" = h2 ]; then
    echo "ok    the browser's nextHopProtocol is h2"
else
    echo "FAIL  the browser's nextHopProtocol is '$protocol', not h2"; fail=1
fi
# {"resources":100,"protocols":{"h2":100},"page":"h2","load_ms":...}
if [[ "$assets" == '{"resources":100,"protocols":{"h2":100},"page":"h2",'* ]]; then
    echo "ok    a page of 100 images: every one over h2 ($assets)"
else
    echo "FAIL  a page of 100 images: not every one over h2: '$assets'"; fail=1
fi
read -r size colours ink < <(python3 scripts/png-stats.py "$out/index.png")
if [ "$colours" -ge 20 ] && python3 -c "import sys; sys.exit(0 if $ink >= 0.02 else 1)"; then
    echo "ok    $out/index.png: $size, $colours colours, ${ink} of the pixels drawn"
else
    echo "FAIL  $out/index.png looks blank: $size, $colours colours"; fail=1
fi
if [ "$fail" -ne 0 ]; then
    echo "browser-check-tls: FAILED (server log in $out/)" >&2
    exit 1
fi
echo "browser-check-tls: passed"
