#!/usr/bin/env bash
# A headless browser for the status-page test: Debian's chromium, installed once.
# Prints the browser's path. As root on Debian/Ubuntu it installs the package; elsewhere
# it says what to install.
set -euo pipefail
for name in chromium chromium-browser google-chrome; do
  if path=$(command -v "$name"); then echo "$path"; exit 0; fi
done
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "[browser] installing Debian's chromium (once)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >&2
  command -v chromium
  exit 0
fi
echo "[browser] no chromium found: install it (Debian: apt-get install chromium) and re-run" >&2
exit 1
