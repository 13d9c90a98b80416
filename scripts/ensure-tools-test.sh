#!/usr/bin/env bash
# Test of scripts/ensure-tools.sh (run by `make test`): with a PATH that is only a temporary bin
# directory (links to the commands the script runs, stand-ins for the test tools, no promtool)
# and stub apt-get, sudo and id that record how they were called, the script must name
# promtool as missing, ask apt-get for the package prometheus when installing, and only report
# (exit 1, the list) when told not to install. Nothing is installed; the system is not touched.
set -euo pipefail
cd "$(dirname "$0")/.."
script="$PWD/scripts/ensure-tools.sh"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
bin="$work/bin"
calls="$work/calls" # one line per stub call: NAME ARGS..., plus what apt-get saw
policy="$work/policy-rc.d"

checks=0
failures=0
check() { # DESCRIPTION COMMAND...
    checks=$((checks + 1))
    if "${@:2}"; then
        echo "ok    $1"
    else
        echo "FAIL  $1"
        failures=$((failures + 1))
    fi
}
calls_are() { # EXPECTED-LINES
    local got
    got="$(cat "$calls" 2>/dev/null || true)"
    [ "$got" = "$1" ] || { printf '      expected calls:\n%s\n      got:\n%s\n' "$1" "$got"; return 1; }
}
contains() { # FILE TEXT
    grep -qF -- "$2" "$1" || { echo "      '$2' not in:"; sed 's/^/      /' "$1"; return 1; }
}

# bin: every command the script runs, linked; the test tools but promtool as stand-ins (only
# their presence is checked); stubs for apt-get, sudo and id.
setup() { # UID APT-INSTALLS(yes|no)
    rm -rf "$bin" "$calls" "$policy"
    mkdir -p "$bin"
    local cmd
    for cmd in bash env tee chmod rm; do
        ln -s "$(command -v "$cmd")" "$bin/$cmd"
    done
    while read -r cmd _; do
        [ "$cmd" = promtool ] && continue
        printf '#!/bin/sh\nexit 0\n' > "$bin/$cmd"
    done < <("$script" --list)
    cat > "$bin/id" <<EOF
#!/bin/sh
echo "id \$*" >> "$calls"
[ "\$1" = -u ] && echo $1
EOF
    cat > "$bin/sudo" <<EOF
#!/bin/sh
echo "sudo \$*" >> "$calls"
exec "\$@"
EOF
    # Records its arguments and, for install, the environment and guard it ran under; then
    # "installs" promtool when asked to.
    cat > "$bin/apt-get" <<EOF
#!/bin/sh
echo "apt-get \$*" >> "$calls"
if [ "\$1" = install ]; then
    if [ -x "$policy" ]; then "$policy"; echo "policy-rc.d exits \$?" >> "$calls"; fi
    echo "DEBIAN_FRONTEND=\${DEBIAN_FRONTEND:-}" >> "$calls"
    if [ "$2" = yes ]; then printf '#!/bin/sh\n' > "$bin/promtool"; chmod +x "$bin/promtool"; fi
fi
EOF
    chmod +x "$bin"/*
}
run() { # [VAR=VALUE...] ARGS...: runs the script with only $bin on the PATH
    set +e
    env -u NO_INSTALL ENSURE_TOOLS_POLICY_RC_D="$policy" PATH="$bin" "$@" > "$work/out" 2>&1
    status=$?
    set -e
}
status_is() { [ "$status" = "$1" ] || { echo "      exit status $status, expected $1:"; sed 's/^/      /' "$work/out"; return 1; }; }

install_calls="apt-get update -qq
apt-get install -y -qq --no-install-recommends prometheus
policy-rc.d exits 101
DEBIAN_FRONTEND=noninteractive"

# As root: names promtool, installs prometheus without sudo under the guard, goes on.
setup 0 yes
run "$script"
check "install mode exits 0 once promtool is installed" status_is 0
check "install mode names promtool and its package" contains "$work/out" "missing: promtool (Debian package prometheus)"
check "as root, apt-get update then install prometheus, no sudo" calls_are "id -u
$install_calls"
check "the policy-rc.d guard is removed afterwards" test ! -e "$policy"

# Not root: the same through sudo.
setup 1000 yes
run "$script"
check "not root: exits 0" status_is 0
check "not root: guard and apt-get through sudo" calls_are "id -u
sudo tee $policy
sudo chmod +x $policy
sudo apt-get update -qq
apt-get update -qq
sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus
apt-get install -y -qq --no-install-recommends prometheus
policy-rc.d exits 101
DEBIAN_FRONTEND=noninteractive
sudo rm -f $policy"

# Report only, by NO_INSTALL or by flag: the list, exit 1, no apt-get.
setup 0 yes
run env NO_INSTALL=1 "$script"
check "NO_INSTALL=1 exits 1" status_is 1
check "NO_INSTALL=1 lists promtool" contains "$work/out" "missing: promtool (Debian package prometheus)"
check "NO_INSTALL=1 calls neither apt-get nor sudo" calls_are ""
run "$script" --report-only
check "--report-only exits 1" status_is 1
check "--report-only calls nothing" calls_are ""
run env NO_INSTALL=0 "$script"
check "NO_INSTALL=0 installs" contains "$work/out" "installing prometheus"

# A guard that was already there stays; a package that brings no command is an error.
setup 0 no
printf '#!/bin/sh\nexit 101\n' > "$policy"
chmod +x "$policy"
run "$script"
check "promtool still missing after apt-get: exit 1" status_is 1
check "... and it says so" contains "$work/out" "still missing after apt-get install: promtool"
check "an existing policy-rc.d is left in place" test -e "$policy"

# Nothing missing: no apt-get. Named commands and COMMAND:PACKAGE pairs.
setup 0 yes
printf '#!/bin/sh\n' > "$bin/promtool"
chmod +x "$bin/promtool"
run "$script"
check "nothing missing: exit 0" status_is 0
check "nothing missing: no apt-get" calls_are ""
run env NO_INSTALL=1 "$script" curl haproxy chromium:chromium-browser
check "named commands: exit 1" status_is 1
check "named commands: lists each with its package" contains "$work/out" \
    "missing: haproxy (Debian package haproxy), chromium (Debian package chromium-browser)"

# No apt-get at all: the list and exit 1.
setup 0 yes
rm "$bin/apt-get"
run "$script"
check "no apt-get: exit 1" status_is 1
check "no apt-get: says what to install" contains "$work/out" "apt-get not found; install prometheus"

if [ "$failures" -eq 0 ]; then
    echo "ensure-tools-test: passed ($checks checks)"
else
    echo "ensure-tools-test: FAILED ($failures of $checks checks)"
    exit 1
fi
