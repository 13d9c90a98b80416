# `make` builds the server in release mode and serves www/ on http://127.0.0.1:8080.
# `make test` runs the formatting check, clippy and every test.
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

test:
	$(CARGO) fmt --all -- --check
	$(CARGO) fmt --manifest-path fuzz/Cargo.toml -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) test --workspace

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
