#!/usr/bin/env bash
# Runs the HTTP/2 suite (scripts/h2check/) against this server, twice: h2c with prior
# knowledge on the plain port, then h2 chosen by ALPN over TLS (a self-signed certificate).
# Each run serves a fixture made here, with short timeouts so the timeout cases end quickly,
# and ends with a graceful shutdown whose exit status the suite checks. The servers' output is
# kept in target/h2check/. Arguments after the options go to h2check.py (--only REGEX, -v).
#
#   scripts/h2check.sh [--release] [H2CHECK-ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

profile=debug
if [ "${1:-}" = --release ]; then profile=release; shift; fi
scripts/ensure-tools.sh python3 py:h2:python3-h2 py:hyperframe:python3-hyperframe py:hpack:python3-hpack
cargo build --quiet $([ $profile = release ] && echo --release) --bin http-server
bin="${CARGO_TARGET_DIR:-target}/$profile/http-server"

out=target/h2check
rm -rf "$out"; mkdir -p "$out/root"
python3 - "$out/root" <<'PY'
import sys
for name, n in (("1k.bin", 1024), ("big.bin", 4 << 20)):
    with open(f"{sys.argv[1]}/{name}", "wb") as f:
        f.write(bytes(i % 251 for i in range(n)))
PY

# The suite's timing cases must agree with the server's flags.
timeouts=(--idle-timeout 4 --send-timeout 3 --header-timeout 2 --shutdown-timeout 3)
pid=""
cleanup() { if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; fi; }
trap cleanup EXIT

status=0
for mode in h2c tls; do
    flags=(); suite=()
    if [ $mode = tls ]; then flags=(--tls-self-signed); suite=(--tls); fi
    # The wrapper writes the server's exit status where the shutdown case looks for it.
    rm -f "$out/$mode.status"
    rm -f "$out/$mode.pid"
    ( "$bin" --port 0 "${timeouts[@]}" "${flags[@]}" "$out/root" > "$out/$mode.log" \
        2> "$out/$mode.err" &
      echo $! > "$out/$mode.pid"
      status=0; wait $! || status=$?
      echo $status > "$out/$mode.status" ) &
    url="$(listening_url "$out/$mode.log")"
    pid="$(cat "$out/$mode.pid" 2>/dev/null || true)"
    if [ -z "$url" ] || [ -z "$pid" ]; then
        echo "h2check: the server did not start ($mode)" >&2; cat "$out/$mode.err" >&2; exit 1
    fi
    echo "h2check: $mode on ${url##*:}"
    scripts/h2check/run.sh --port "${url##*:}" "${suite[@]}" "${timeouts[@]}" --pid "$pid" \
        --exit-status-file "$out/$mode.status" "$@" || status=1
    # The shutdown case stopped the server; if it did not run, stop it here.
    cleanup; wait || true; pid=""
done
exit $status
