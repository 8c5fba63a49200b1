"""Apollo Client (tests/support/apollo/: package.json, its lock, and persisted.mjs) run by
node against a gateway. `npm ci` installs the locked packages once per lock into
test-artifacts/ (ignored by git), so a test run after the first needs no registry."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.support.servers import ARTIFACTS

SOURCE = Path(__file__).parent / "apollo"
FILES = ("package.json", "package-lock.json", "persisted.mjs")


def installed() -> Path:
    """A directory with the script and its node_modules, made with `npm ci` when the lock
    is new."""
    lock = hashlib.sha256((SOURCE / "package-lock.json").read_bytes()).hexdigest()[:16]
    where = ARTIFACTS / f"apollo-{lock}"
    if not (where / "node_modules" / ".package-lock.json").exists():
        where.mkdir(parents=True, exist_ok=True)
        for name in FILES[:2]:
            shutil.copy(SOURCE / name, where / name)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=where, check=True, timeout=300)
    shutil.copy(SOURCE / FILES[2], where / FILES[2])  # the script as it is now
    return where


def run_persisted_queries(graphql_url: str, rounds: int) -> dict[str, Any]:
    """What persisted.mjs saw: every HTTP request Apollo's link made, and the results."""
    done = subprocess.run(["node", FILES[2], graphql_url, str(rounds)], cwd=installed(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
