#!/usr/bin/env bash
# Runs the HTTP/2 conformance and attack checks against a server that is already listening:
#   scripts/h2check/run.sh --port 8080 [--tls] [--only PATTERN] [--pid PID] ...
# Makes a venv under target/h2check-venv with the pinned packages from requirements.txt (again
# whenever that file changes), then passes every argument to h2check.py (--help lists them).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${H2CHECK_VENV:-$here/../../target/h2check-venv}"
if ! cmp -s "$here/requirements.txt" "$venv/requirements.txt" 2>/dev/null; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
    cp "$here/requirements.txt" "$venv/requirements.txt"
fi
exec "$venv/bin/python" "$here/h2check.py" "$@"
