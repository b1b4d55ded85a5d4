#!/usr/bin/env bash
# Debian's chromium, for the reporting pages' browser tests (installed once per machine).
set -euo pipefail
[ -x /usr/bin/chromium ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "chromium is missing and there is no apt-get: the page tests will skip (or fail under CI)" >&2
  exit 0
fi
sudo=$([ "$(id -u)" = 0 ] || echo sudo)
echo "installing chromium (Debian package) for the page tests"
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
