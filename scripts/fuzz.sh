#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60), one after the other.
#   scripts/fuzz.sh 600          # ten minutes per target
# Needs the nightly toolchain and cargo-fuzz (installed here when missing). Crashes are kept in
# fuzz/artifacts/TARGET/; add each one as a regression test in crates/http-core before fixing it.
set -euo pipefail
seconds="${1:-60}"
cd "$(dirname "$0")/../fuzz"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
rustup toolchain list | grep -q '^nightly' || { echo "fuzz.sh: the nightly toolchain is needed" >&2; exit 1; }
for target in $(cargo +nightly fuzz list); do
    echo "== $target for ${seconds}s"
    cargo +nightly fuzz run "$target" -- -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048
done
