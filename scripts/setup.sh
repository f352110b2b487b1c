#!/usr/bin/env bash
# Installs what ledge's tests need on a fresh machine, and nothing when it is all there.
# Idempotent; safe to run on every CI run.
set -euo pipefail

need_apt=()
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v setsid >/dev/null 2>&1 || need_apt+=(util-linux)
# The cache crate's Redis store tests start their own redis-server on a free loopback port.
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || need_apt+=(redis-server)
# The example app and the tests run Python 3.11 functions on Debian's interpreter.
command -v python3.11 >/dev/null 2>&1 || [ -x /usr/bin/python3.11 ] || need_apt+=(python3)
# The tuning report is checked by rendering it in headless Chromium (crates/cli/tests/tune.rs).
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
# pip installs the third-party runtime clients the compatibility tests use (awslambdaric).
if ! python3 -m pip --version >/dev/null 2>&1 && ! /usr/bin/python3 -m pip --version >/dev/null 2>&1; then
  need_apt+=(python3-pip)
fi

if ((${#need_apt[@]})); then
  echo "setup: installing ${need_apt[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
echo "setup: ok"
