#!/usr/bin/env bash
# Install the system pieces the stack and the tests need (e.g. redis-server) when they are
# missing: with apt-get when running as root, else say what to install and stop.
# Each argument is a command, a shared library (lib*.so) or python3-venv.
set -euo pipefail
declare -A PACKAGE=([redis-server]=redis-server [nginx]=nginx [chromium]=chromium
                    [envsubst]=gettext-base [libnss_wrapper.so]=libnss-wrapper
                    [rabbitmq-server]=rabbitmq-server [python3-venv]=python3-venv
                    [node]=nodejs [npm]=npm)
present() {
  case "$1" in
    python3-venv) python3 -c 'import ensurepip, venv' >/dev/null 2>&1 ;;
    lib*.so) compgen -G "/usr/lib/*/$1" >/dev/null || [ -e "/usr/lib/$1" ] ;;
    *) command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] ;;
  esac
}
missing=()
for need in "$@"; do
  present "$need" || missing+=("${PACKAGE[$need]:-$need}")
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
