#!/usr/bin/env bash
# The dependency lock: uv.lock is the one resolution of pyproject.toml's ranges (runtime,
# the dev and bench extras, the install tools), exported as hashed requirement files that
# plain pip installs (infra/install.sh). uv resolves in about a second and writes every
# file's hash; pip then needs nothing but the export.
#   infra/lock.sh                       re-resolve to the newest allowed releases
#   infra/lock.sh --upgrade-package X   move only X (and what it needs)
#   infra/lock.sh --check               fail when uv.lock or an export is out of date
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-.venv/bin/uv}
out=requirements
if [ "${1:-}" = --check ]; then
  "$UV" lock --check --offline --quiet
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
elif [ $# -gt 0 ]; then
  "$UV" lock "$@"
else
  "$UV" lock --upgrade
fi
export_set() {  # name, then uv export's selection flags
  local name=$1; shift
  "$UV" export --frozen --no-emit-project --no-header --format requirements-txt --quiet \
    "$@" -o "$out/$name.txt"
}
export_set install --only-group install
export_set runtime --no-dev
export_set dev --no-dev --extra dev
export_set bench --no-dev --extra dev --extra bench
if [ "$out" != requirements ]; then
  for f in "$out"/*.txt; do
    cmp -s "$f" "requirements/$(basename "$f")" || {
      echo "requirements/$(basename "$f") is not the export of uv.lock: run 'make lock'" >&2
      exit 1
    }
  done
fi
