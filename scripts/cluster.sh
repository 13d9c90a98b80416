#!/usr/bin/env bash
# Runs N http-server instances behind HAProxy on 127.0.0.1 until Ctrl-C:
#   scripts/cluster.sh 3
# Installs HAProxy (Debian's package) when missing; stops every process it started on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-tools.sh haproxy python3
cargo build --release --quiet --bin http-server
exec python3 scripts/cluster/cluster.py run "${1:-2}"
