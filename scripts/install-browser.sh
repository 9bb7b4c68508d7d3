#!/usr/bin/env bash
# Install the headless browser the end-to-end tests drive: Debian's Chromium, plus a small
# CJK font so Chinese text in the widget screenshots is readable. Idempotent: packages that
# are already installed are left alone. Playwright's own browser download is never used
# (`playwright install` needs a network this project does not assume).
set -euo pipefail

packages=(chromium fonts-wqy-microhei)
missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "already installed: ${packages[*]}"
else
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
  echo "installing: ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi

/usr/bin/chromium --version
