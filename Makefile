# `make` builds the server in release mode and serves www/ on http://127.0.0.1:8080;
# `make help` lists every target and the variables they take:
#
#   make ROOT=~/Downloads ARGS=--listing          share another folder, with listings
#   make ROOT="my site" PORT=9000 ARGS='--threads 4 --cache-control "max-age=3600"'
#
# Every variable is quoted in the recipes, so values may hold spaces; ARGS alone is split into
# words, with the shell's quoting, because it holds several flags.

#: ROOT          folder to serve [www]
ROOT ?= www
#: PORT          TCP port, 0 for any free one [8080]
PORT ?= 8080
#: BIND          address to listen on; 0.0.0.0 or :: to reach it from other devices [127.0.0.1]
BIND ?= 127.0.0.1
#: ARGS          more flags for http-server (target/release/http-server --help lists them)
ARGS ?=
#: PREFIX        make install puts the binary in PREFIX/bin [~/.local]
PREFIX ?= $(HOME)/.local
#: NO_INSTALL    make test: 1 lists missing test commands instead of installing them
#: N             make cluster: how many instances [2]
N ?= 2
#: FUZZ_SECONDS  make fuzz: seconds per fuzz target [60]
FUZZ_SECONDS ?= 60
#: CARGO         the cargo command [cargo]
CARGO ?= cargo
BIN := target/release/http-server

# A leading ~/ is the home directory even where the shell left it alone (zsh, sh); only bash
# expands it in `make ROOT=~/dir`.
root = $(if $(filter ~/%,$(firstword $(ROOT))),$(HOME)/$(patsubst ~/%,%,$(ROOT)),$(ROOT))

.PHONY: run build help install uninstall test h2check browser-check cluster cluster-check bench \
	bench-quick bench-h2 fuzz fmt lint check-clean-clone clean

run: build  ## build, then serve ROOT on http://BIND:PORT until Ctrl-C
	"$(BIN)" --bind "$(BIND)" --port "$(PORT)" $(ARGS) "$(root)"

build:  ## build the release binary (target/release/http-server)
	"$(CARGO)" build --release --bin http-server

help:  ## list the targets and the variables they take
	@echo 'Targets:'
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-z0-9-]*:.*## / {printf "  make %-18s %s\n", $$1, $$2}' "$(firstword $(MAKEFILE_LIST))"
	@echo 'Variables (make VAR=value ...):'
	@sed -n 's/^#: /  /p' "$(firstword $(MAKEFILE_LIST))"

# Stripped on the way: the release build keeps line tables for readable panics in the checkout
# (about 38 MB); the installed copy does without them (about 7 MB).
install: build  ## copy the binary, stripped, to PREFIX/bin (~/.local/bin unless PREFIX is given)
	install -d "$(DESTDIR)$(PREFIX)/bin"
	install -s -m 755 "$(BIN)" "$(DESTDIR)$(PREFIX)/bin/http-server"
	@case ":$$PATH:" in *":$(PREFIX)/bin:"*) ;; \
	    *) echo "note: $(PREFIX)/bin is not on your PATH; add it to run http-server by name" ;; esac

uninstall:  ## remove PREFIX/bin/http-server
	rm -f "$(DESTDIR)$(PREFIX)/bin/http-server"

# First the Rust toolchain and the commands the tests call (scripts/ensure-tools.sh installs the
# missing ones from Debian's packages; NO_INSTALL=1 only lists them), then the steps, stopping at
# the first that fails. The last line totals every cargo test binary's `test result:` line and
# the script self-test; a failed step that is not a test counts as one failure.
test: SHELL := /bin/bash
test:  ## formatting check, clippy and every test; ends with "test: N passed, N failed"
	@scripts/ensure-tools.sh --toolchain
	@set -o pipefail; log="$$(mktemp)"; trap 'rm -f "$$log"' EXIT; \
	run() { echo "$$*"; "$$@"; }; \
	{ run scripts/ensure-tools-test.sh && \
	  run "$(CARGO)" fmt --all -- --check && \
	  run "$(CARGO)" fmt --manifest-path fuzz/Cargo.toml -- --check && \
	  run "$(CARGO)" clippy --workspace --all-targets -- -D warnings && \
	  run "$(CARGO)" clippy --manifest-path fuzz/Cargo.toml --bins --no-default-features -- -D warnings && \
	  run "$(CARGO)" test --workspace; } | tee "$$log"; status=$$?; \
	awk -v status=$$status '/^test result:/ {p += $$4; f += $$6} \
	    /^ensure-tools-test: passed/ {p++} /^ensure-tools-test: FAILED/ {f++} \
	    END {if (status && !f) f = 1; print "test: " p + 0 " passed, " f + 0 " failed"}' "$$log"; \
	exit $$status

h2check:  ## the HTTP/2 conformance and attack suite (scripts/h2check/) over h2c and TLS
	scripts/h2check.sh

browser-check:  ## headless Chromium loads the start page and a listing at desktop and phone widths
	scripts/browser-check.sh

cluster:  ## N instances behind HAProxy on 127.0.0.1 until Ctrl-C
	scripts/cluster.sh "$(N)"

cluster-check:  ## rolling restarts behind HAProxy with zero failed requests (CI runs it)
	scripts/cluster-check.sh --prometheus

bench:  ## ours beside nginx, h2o, lighttpd and caddy, on one core and on all, then HTTP/2 beside h2o and nginx (about 35 minutes)
	scripts/bench.sh

bench-quick:  ## a subset of make bench (about 3 minutes)
	scripts/bench.sh --quick

bench-h2:  ## HTTP/2 beside h2o and nginx (h2load), then a 100-image page in Chromium, h2 against HTTP/1.1 (about 40 minutes)
	scripts/bench.sh --h2
	scripts/bench/pageload.sh

fuzz:  ## every fuzz target for FUZZ_SECONDS each (nightly toolchain; not part of CI)
	scripts/fuzz.sh "$(FUZZ_SECONDS)"

fmt:  ## format the code
	"$(CARGO)" fmt --all

lint:  ## clippy with warnings as errors, on the workspace and the fuzz targets
	"$(CARGO)" clippy --workspace --all-targets -- -D warnings
	"$(CARGO)" clippy --manifest-path fuzz/Cargo.toml --bins --no-default-features -- -D warnings

check-clean-clone:  ## what CI does, on a fresh clone of the committed tree
	scripts/check-clean-clone.sh

clean:  ## remove target/ (and the fuzz targets' fuzz/target/)
	"$(CARGO)" clean
	"$(CARGO)" clean --manifest-path fuzz/Cargo.toml
