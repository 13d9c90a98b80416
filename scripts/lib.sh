# shellcheck shell=bash
# Helpers the check and benchmark scripts share (sourced, never run).

# listening_url STDOUT_FILE [TRIES]
# Waits until an http-server whose stdout goes to STDOUT_FILE has printed its "listening on"
# line, and prints that line's URL (http://127.0.0.1:PORT or https://...); prints nothing if
# it has not after TRIES tenths of a second (100). The port is "${url##*:}".
listening_url() {
    local file="$1" tries="${2:-100}" url=""
    for _ in $(seq "$tries"); do
        url="$(sed -n 's/^listening on //p' "$file" 2>/dev/null | head -n 1)"
        [ -n "$url" ] && break
        sleep 0.1
    done
    echo "$url"
}

# chromium_run WIDTH HEIGHT ARGS...
# Headless Chromium at that window size, with a fresh profile in $work/profile and its stderr
# in $work/chromium.log; on failure says so (as $me) with that log and exits the script.
# shellcheck disable=SC2154 # $work and $me are the sourcing script's
chromium_run() {
    local width=$1 height=$2
    shift 2
    timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --hide-scrollbars --user-data-dir="$work/profile" --window-size="$width,$height" "$@" \
        2> "$work/chromium.log" || {
        echo "$me: chromium failed on ${*: -1}" >&2; cat "$work/chromium.log" >&2; exit 1; }
}
