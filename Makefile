# `make` builds the server in release mode and serves www/ on http://127.0.0.1:8080.
# `make test` runs the formatting check, clippy and every test, after installing the commands the
# tests call when missing (`make test NO_INSTALL=1` only lists them).
#
#   make ROOT=site PORT=9000 ARGS='--threads 4 --dotfiles'

CARGO ?= cargo
ROOT  ?= www
PORT  ?= 8080
BIND  ?= 127.0.0.1
ARGS  ?=
BIN   := target/release/http-server

.PHONY: run build test browser-check cluster cluster-check bench bench-quick fuzz fmt lint check-clean-clone clean

run: build
	$(BIN) --bind $(BIND) --port $(PORT) $(ARGS) $(ROOT)

build:
	$(CARGO) build --release --bin http-server

# First the Rust toolchain and the commands the tests call (scripts/ensure-tools.sh installs the
# missing ones from Debian's packages; NO_INSTALL=1 only lists them), then the steps, stopping at
# the first that fails. The last line totals every cargo test binary's `test result:` line and
# the script self-test; a failed step that is not a test counts as one failure.
test: SHELL := /bin/bash
test:
	@scripts/ensure-tools.sh --toolchain
	@set -o pipefail; log="$$(mktemp)"; trap 'rm -f "$$log"' EXIT; \
	run() { echo "$$*"; "$$@"; }; \
	{ run scripts/ensure-tools-test.sh && \
	  run $(CARGO) fmt --all -- --check && \
	  run $(CARGO) fmt --manifest-path fuzz/Cargo.toml -- --check && \
	  run $(CARGO) clippy --workspace --all-targets -- -D warnings && \
	  run $(CARGO) test --workspace; } | tee "$$log"; status=$$?; \
	awk -v status=$$status '/^test result:/ {p += $$4; f += $$6} \
	    /^ensure-tools-test: passed/ {p++} /^ensure-tools-test: FAILED/ {f++} \
	    END {if (status && !f) f = 1; print "test: " p + 0 " passed, " f + 0 " failed"}' "$$log"; \
	exit $$status

# Headless Chromium loads the start page and a listing (installs Debian's chromium if missing).
browser-check:
	scripts/browser-check.sh

# N instances behind HAProxy until Ctrl-C; the rolling-restart check (also run by CI).
N ?= 2
cluster:
	scripts/cluster.sh $(N)

cluster-check:
	scripts/cluster-check.sh --prometheus

# Same-run comparison with nginx (about 10 minutes; bench-quick about 2).
bench:
	scripts/bench.sh

bench-quick:
	scripts/bench.sh --quick

# Every fuzz target for FUZZ_SECONDS each (nightly toolchain; not part of CI).
FUZZ_SECONDS ?= 60
fuzz:
	scripts/fuzz.sh $(FUZZ_SECONDS)

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# What CI does, on a fresh clone of the committed tree.
check-clean-clone:
	scripts/check-clean-clone.sh

clean:
	$(CARGO) clean
