#!/usr/bin/env bash
# Checks that a real browser renders what the server serves: headless Chromium loads the start
# page and a directory listing at a desktop width (1024 px) and a phone width (400 px). It
# fails when the access log does not show the page, its stylesheet and its image served with
# 200, when anything was a 404 (such as a missing favicon), when the start page does not show
# the address it was loaded from, when a page is wider than the viewport or a listing's sizes
# or dates wrap, or when a screenshot is blank. Then, for each of br, zstd and gzip, a page
# compressed on the fly must reach the browser compressed and be decoded (its text in the DOM).
# Screenshots are kept in target/browser-check/.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
me=browser-check

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
files="$work/root/files"
mkdir -p "$files/sub" "$files/holiday-photos-2026"
echo "hello" > "$files/hello.txt"
echo "notes" > "$files/notes & more.md"
echo "long" > "$files/a-very-long-file-name-without-any-spaces-that-must-break-somewhere-on-a-phone.tar.gz"
truncate -s 200M "$files/disk-image.iso"       # sparse: costs no disk
truncate -s 1207060939 "$files/backup-2026-11.tar"
touch -d '2026-01-02 03:04' "$files/hello.txt"
touch -d '2025-06-30 23:59' "$files/disk-image.iso"

# Loads ?src= in a frame ?w= pixels wide (headless Chromium's own window is at least 500 px
# wide) and puts the verdict in the title: OK, or FAIL with what overflowed (the page wider
# than the viewport; a size or date broken over lines).
cat > "$work/root/layout-check.html" <<'HTML'
<!doctype html>
<meta charset="utf-8">
<title>PENDING</title>
<body style="margin:0">
<iframe id="frame" style="border:0;display:block;height:100vh"></iframe>
<script>
const frame = document.getElementById("frame"), query = new URLSearchParams(location.search);
frame.style.width = query.get("w") + "px";
frame.onload = () => {
  const doc = frame.contentDocument, win = frame.contentWindow, problems = [];
  const over = doc.documentElement.scrollWidth - win.innerWidth;
  if (over > 0) problems.push(`${over}px wider than the ${win.innerWidth}px viewport`);
  for (const el of doc.querySelectorAll("td.size, td.modified, time")) {
    const range = doc.createRange();
    range.selectNodeContents(el);
    const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
    if (lines > 1) problems.push(`"${el.textContent}" wraps`);
  }
  document.title = problems.length ? "FAIL " + problems.join("; ") : `OK ${win.innerWidth}px`;
};
frame.src = query.get("src");
</script>
HTML

"$bin" --port 0 --listing "$work/root" > "$out/access.log" 2> "$out/server.err" &
pid=$!
url="$(listening_url "$out/access.log")"
[ -n "$url" ] || { echo "browser-check: the server did not start" >&2; cat "$out/server.err" >&2; exit 1; }

shoot() { # URL PNG WIDTH HEIGHT
    chromium_run "$3" "$4" --screenshot="$2" "$1" > /dev/null
}
dom() { # URL WIDTH: the page's DOM once its scripts have run
    chromium_run "$2" 900 --virtual-time-budget=5000 --dump-dom "$1"
}
shoot "$url/" "$out/index.png" 1024 768
shoot "$url/" "$out/index-phone.png" 400 860
shoot "$url/files/" "$out/listing.png" 1024 768
shoot "$url/files/" "$out/listing-phone.png" 400 860
shoot "$url/files/?sort=size&order=desc" "$out/listing-by-size-phone.png" 400 860
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
if grep -q '" 404 ' "$out/access.log"; then
    echo "FAIL  a request was answered 404:"; grep '" 404 ' "$out/access.log"; fail=1
else
    echo "ok    no 404 (the favicon is there)"
fi

if dom "$url/" 1024 | grep -qF "<span class=\"origin\">$url</span>"; then
    echo "ok    the start page shows the address it was loaded from ($url)"
else
    echo "FAIL  the start page does not show $url"; fail=1
fi

fits() { # PATH WIDTH
    local verdict
    verdict="$(dom "$url/layout-check.html?w=$2&src=$1" 1024 | sed -n 's:.*<title>\(.*\)</title>.*:\1:p')"
    if [ "$verdict" = "OK ${2}px" ]; then
        echo "ok    $1 fits ${2} px: nothing overflows or wraps"
    else
        echo "FAIL  $1 at ${2} px: ${verdict:-no verdict}"; fail=1
    fi
}
for width in 1024 400; do
    fits /files/ "$width"
    fits "/files/?sort=size%26order=desc" "$width"
    fits / "$width"
done

not_blank() { # PNG MIN-COLOURS MIN-INK
    read -r size colours ink < <(python3 scripts/png-stats.py "$1")
    if [ "$colours" -ge "$2" ] && python3 -c "import sys; sys.exit(0 if $ink >= $3 else 1)"; then
        echo "ok    $1: $size, $colours colours, ${ink} of the pixels drawn"
    else
        echo "FAIL  $1 looks blank: $size, $colours colours, ${ink} of the pixels drawn"; fail=1
    fi
}
not_blank "$out/index.png" 20 0.02
not_blank "$out/index-phone.png" 20 0.02
not_blank "$out/listing.png" 5 0.005
not_blank "$out/listing-phone.png" 5 0.005
not_blank "$out/listing-by-size-phone.png" 5 0.005

# On-the-fly compression: a server offering one coding at a time; the page is compressed once
# its copy is in the cache (it has to settle for a second first), which curl waits for.
python3 -c 'import sys; print("<!doctype html><title>compressed</title>" + "".join(
    f"<p>paragraph {i}: the quick brown fox jumps over the lazy dog</p>" for i in range(200))
    + "<p id=\"end\">decoded-by-the-browser</p>")' > "$work/root/compressed.html"
page_size="$(stat -c %s "$work/root/compressed.html")"
for coding in br zstd gzip; do
    "$bin" --port 0 --compress "$coding" "$work/root" > "$out/compress-$coding.log" 2>> "$out/server.err" &
    cpid=$!
    curl_url="$(listening_url "$out/compress-$coding.log")/compressed.html"
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
