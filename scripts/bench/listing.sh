#!/usr/bin/env bash
# Time to list a directory of 50,000 files (the listing shows the first 10,000 in order and
# counts the rest), measured from the client: median and worst of ROUNDS requests.
#
#   scripts/bench/listing.sh            # 50,000 files, 20 rounds
#   FILES=100000 ROUNDS=50 scripts/bench/listing.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
files="${FILES:-50000}"
rounds="${ROUNDS:-20}"

scripts/ensure-tools.sh curl python3
cargo build --release --quiet --bin http-server
bin="${CARGO_TARGET_DIR:-target}/release/http-server"
root="$(mktemp -d)"
out="$(mktemp)"
pid=""
cleanup() { [ -z "$pid" ] || kill "$pid" 2>/dev/null || true; rm -rf "$root" "$out"; }
trap cleanup EXIT

mkdir "$root/big"
python3 - "$root/big" "$files" <<'PY'
import os, sys
for i in range(int(sys.argv[2])):
    open(os.path.join(sys.argv[1], f"file-{i}.txt"), "w").close()
PY
"$bin" --port 0 --listing --access-log off --threads 1 "$root" > "$out" 2>&1 &
pid=$!
url="$(listening_url "$out" 50)"
for _ in $(seq "$rounds"); do
    curl -s -o /dev/null -w '%{time_total}\n' "$url/big/"
done | sort -n | awk -v files="$files" '{t[NR] = $1} END {
    printf "listing of %d files: median %.1f ms, worst %.1f ms over %d requests\n",
        files, t[int((NR + 1) / 2)] * 1000, t[NR] * 1000, NR }'
