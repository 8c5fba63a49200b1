#!/usr/bin/env bash
# Install a locked set of packages (requirements/<set>.txt: runtime, dev or bench) and the
# project into the venv. Only the exact versions and hashes of the lock are installed:
# --require-hashes refuses anything else, --no-deps never lets pip pick a dependency
# itself, and the project is built with the locked setuptools (no build isolation, which
# would fetch the newest setuptools). `pip check` then proves the set is complete.
set -euo pipefail
cd "$(dirname "$0")/.."
set_name=${1:-dev}
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV" || {
    echo "could not make a venv: on Debian, 'apt-get install python3-venv'" >&2
    exit 1
  }
fi
pip=("$VENV/bin/python" -m pip install --quiet --require-hashes --no-deps)
"${pip[@]}" -r requirements/install.txt
"${pip[@]}" -r "requirements/$set_name.txt"
"$VENV/bin/python" -m pip install --quiet --no-deps --no-build-isolation --editable .
"$VENV/bin/python" -m pip check
