#!/usr/bin/env bash
# Installs Debian's chromium for the web console's browser tests when it is missing.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 ; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "chromium is missing (the browser tests need it) and this is not root: install it (sudo apt-get install -y chromium) for the browser tests" >&2
  exit 1
fi
echo "installing chromium from Debian's packages for the browser tests" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq chromium >/dev/null
