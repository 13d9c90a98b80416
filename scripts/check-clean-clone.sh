#!/usr/bin/env bash
# Clones the committed tree into a temporary directory and runs CI there, so that anything that
# only works because of a local, uncommitted file shows up before CI does.
set -euo pipefail
repo="$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git clone --quiet "$repo" "$work/clone"
cd "$work/clone"
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target/clean-clone}" bash .ci/run
