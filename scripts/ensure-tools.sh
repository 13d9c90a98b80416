#!/usr/bin/env bash
# Makes sure the commands the tests and checks call are on the PATH, installing the missing ones
# from Debian's packages (apt-get update first; sudo only when not root; a policy-rc.d guard so
# that no package starts a daemon).
#
#   scripts/ensure-tools.sh [--toolchain] [--report-only] [COMMAND[:PACKAGE]...]
#
# Without COMMANDs it checks what `make test` calls (`--list` prints them with their packages).
# PACKAGE defaults to COMMAND. A COMMAND written py:MODULE is a Python module that Debian's
# python3 (/usr/bin/python3, where Debian's python3-* packages install) must import. --toolchain also checks the Rust toolchain (rust-version from
# Cargo.toml, rustfmt, clippy) and, if it falls short, prints one line saying what to install.
# --report-only, or NO_INSTALL set to anything but 0, lists what is missing and exits 1 instead
# of installing. Exit status 0 means every command is there.
set -euo pipefail
cd "${0%/*}/.."

# What the integration tests run: curl and wget fetch files, promtool (Debian package
# prometheus) validates the metrics exposition, prlimit lowers the descriptor limit, gzip makes
# a sidecar, openssl s_client checks which TLS versions the server refuses, ss (iproute2) counts
# the packets a client received, readelf (binutils, with the strip that make install runs)
# checks that the installed binary is stripped, zbarimg (zbar-tools) scans the printed QR code,
# python3 writes through a shared mapping (a change inotify never reports).
test_tools=(curl wget promtool:prometheus prlimit:util-linux gzip openssl ss:iproute2 readelf:binutils
    zbarimg:zbar-tools python3)
me="ensure-tools"
policy="${ENSURE_TOOLS_POLICY_RC_D:-/usr/sbin/policy-rc.d}" # overridden by its test only

toolchain=0
install=1
case "${NO_INSTALL:-0}" in 0 | "") ;; *) install=0 ;; esac
tools=()
for arg in "$@"; do
    case "$arg" in
        --toolchain) toolchain=1 ;;
        --report-only) install=0 ;;
        --list)
            for pair in "${test_tools[@]}"; do echo "${pair%%:*} ${pair#*:}"; done
            exit 0
            ;;
        -*) echo "$me: unknown option $arg" >&2; exit 2 ;;
        *) tools+=("$arg") ;;
    esac
done
((${#tools[@]})) || tools=("${test_tools[@]}")

# MAJOR.MINOR[.PATCH] as one comparable number.
version_number() {
    local major minor patch
    IFS=. read -r major minor patch <<< "$1"
    echo $((major * 1000000 + ${minor:-0} * 1000 + ${patch:-0}))
}

check_toolchain() {
    local cargo="${CARGO:-cargo}" rustc="${RUSTC:-rustc}" need have fixes=() problems=()
    if ! command -v "$cargo" >/dev/null 2>&1 || ! command -v "$rustc" >/dev/null 2>&1; then
        echo "$me: no Rust toolchain ($cargo, $rustc) on the PATH; install one from https://rustup.rs" >&2
        return 1
    fi
    need="$(sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' Cargo.toml | head -n 1)"
    have="$("$rustc" --version | sed -n 's/^rustc \([0-9][0-9.]*\).*/\1/p')"
    if [ -n "$need" ] && [ -n "$have" ] &&
        [ "$(version_number "$have")" -lt "$(version_number "$need")" ]; then
        problems+=("rustc $have is older than the workspace's rust-version $need")
        fixes+=("rustup update")
    fi
    local components=()
    "$cargo" fmt --version >/dev/null 2>&1 || components+=(rustfmt)
    "$cargo" clippy --version >/dev/null 2>&1 || components+=(clippy)
    case "${#components[@]}" in
        1) problems+=("${components[0]} is missing") ;;
        2) problems+=("rustfmt and clippy are missing") ;;
    esac
    ((${#components[@]} == 0)) || fixes+=("rustup component add ${components[*]}")
    ((${#problems[@]})) || return 0
    local joined_problems joined_fixes
    joined_problems="$(printf '%s, ' "${problems[@]}")"
    joined_fixes="$(printf '%s && ' "${fixes[@]}")"
    command -v rustup >/dev/null 2>&1 || joined_fixes="install rustup from https://rustup.rs && $joined_fixes"
    echo "$me: ${joined_problems%, }: run \`${joined_fixes% && }\`" >&2
    return 1
}

find_missing() { # sets missing_commands, missing_packages
    missing_commands=()
    missing_packages=()
    local pair
    for pair in "${tools[@]}"; do
        if [ "${pair#py:}" != "$pair" ]; then
            local module="${pair#py:}"
            module="${module%%:*}"
            /usr/bin/python3 -c "import $module" >/dev/null 2>&1 && continue
            missing_commands+=("python module $module")
            missing_packages+=("${pair##*:}")
        elif ! command -v "${pair%%:*}" >/dev/null 2>&1; then
            missing_commands+=("${pair%%:*}")
            missing_packages+=("${pair#*:}")
        fi
    done
}

describe_missing() {
    local i out=()
    for i in "${!missing_commands[@]}"; do
        out+=("${missing_commands[$i]} (Debian package ${missing_packages[$i]})")
    done
    local joined
    joined="$(printf '%s, ' "${out[@]}")"
    echo "${joined%, }"
}

[ "$toolchain" = 0 ] || check_toolchain || exit 1

find_missing
((${#missing_commands[@]})) || exit 0
echo "$me: missing: $(describe_missing)" >&2
if [ "$install" = 0 ]; then
    echo "$me: nothing installed (report only); install with: apt-get install ${missing_packages[*]}" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "$me: apt-get not found; install ${missing_packages[*]} with your package manager" >&2
    exit 1
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "$me: installing ${missing_packages[*]} with ${sudo:+sudo }apt-get" >&2
# Packages such as prometheus start a daemon when installed; only their commands are wanted.
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    trap '$sudo rm -f "$policy"' EXIT
    $sudo chmod +x "$policy"
fi
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing_packages[@]}"

find_missing
if ((${#missing_commands[@]})); then
    echo "$me: still missing after apt-get install: $(describe_missing)" >&2
    exit 1
fi
