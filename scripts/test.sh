#!/usr/bin/env bash
# The test command (README): installs what the suite needs on a fresh Debian machine, then runs pytest.
# Dovecot is only run by the tests themselves (dovecot -F, temp config on 127.0.0.1): no system service.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

PYTHON="${PYTHON:-python3}"

need_apt=()
[ -x /usr/sbin/dovecot ] || need_apt+=(dovecot-imapd)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)  # the staff web app's browser tests (Playwright drives it)
"$PYTHON" -m pip --version >/dev/null 2>&1 || need_apt+=(python3-pip)
if [ "${#need_apt[@]}" -gt 0 ]; then
    echo "scripts/test.sh: installing ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Keep the packages from starting system daemons (containers without init, CI runners).
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
        $SUDO chmod +x /usr/sbin/policy-rc.d
        trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends "${need_apt[@]}"
fi

# Debian's own python3 refuses pip installs outside a venv (PEP 668); a CI machine is throwaway.
export PIP_BREAK_SYSTEM_PACKAGES=1
"$PYTHON" -m pip install -q -e '.[test]'
"$PYTHON" -m pytest "$@"
