#!/usr/bin/env bash
# Two instances behind HAProxy; each is restarted (SIGTERM, then started again) while clients
# keep requesting. Passes only with zero failed requests, both instances having served, and the
# instances' own counts (from their shutdown summaries) equal to the requests the client
# completed. With --prometheus, Debian's Prometheus also scrapes both every second and must
# report the same sum.
#   scripts/cluster-check.sh [--prometheus]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--prometheus" ]; then
    scripts/ensure-tools.sh haproxy python3 prometheus
else
    scripts/ensure-tools.sh haproxy python3
fi
cargo build --release --quiet --bin http-server
exec python3 scripts/cluster/cluster.py check "$@"
