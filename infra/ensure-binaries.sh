#!/usr/bin/env bash
# Install the system binaries the stack needs (e.g. redis-server) when they are missing:
# with apt-get when running as root, else say what to install and stop.
set -euo pipefail
declare -A PACKAGE=([redis-server]=redis-server [nginx]=nginx [chromium]=chromium)
missing=()
for bin in "$@"; do
  command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || missing+=("${PACKAGE[$bin]:-$bin}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} with apt-get" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "missing: ${missing[*]}. Install them with your package manager," \
       "e.g. 'sudo apt-get install ${missing[*]}', then run this again." >&2
  exit 1
fi
