#!/usr/bin/env bash
# Debian's chromium (the pages' browser tests) and poppler-utils (pdftotext, pdftoppm: the
# statement and invoice PDFs' tests), installed once per machine.
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v pdftotext >/dev/null || missing+=(poppler-utils)
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "${missing[*]} missing and there is no apt-get: the page and PDF tests will skip (or fail under CI)" >&2
  exit 0
fi
sudo=$([ "$(id -u)" = 0 ] || echo sudo)
echo "installing ${missing[*]} (Debian packages) for the page and PDF tests"
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
