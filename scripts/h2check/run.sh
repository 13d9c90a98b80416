#!/usr/bin/env bash
# Runs the HTTP/2 conformance and attack checks against a server that is already listening:
#   scripts/h2check/run.sh --port 8080 [--tls] [--only PATTERN] [--pid PID] ...
# Uses Debian's python3 when it has the three packages (python3-h2, python3-hyperframe,
# python3-hpack; scripts/h2check.sh installs them); otherwise makes a venv under
# target/h2check-venv with the pinned versions from requirements.txt (again whenever that file
# changes). Then passes every argument to h2check.py (--help lists them).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if /usr/bin/python3 -c 'import h2, hyperframe, hpack' 2>/dev/null; then
    exec /usr/bin/python3 "$here/h2check.py" "$@"
fi
venv="${H2CHECK_VENV:-$here/../../target/h2check-venv}"
if ! cmp -s "$here/requirements.txt" "$venv/requirements.txt" 2>/dev/null; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
    cp "$here/requirements.txt" "$venv/requirements.txt"
fi
exec "$venv/bin/python" "$here/h2check.py" "$@"
