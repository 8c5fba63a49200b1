"""The install is the lock: uv.lock satisfies pyproject.toml, requirements/*.txt are its
current export, and this venv holds exactly the locked version of every locked package."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.servers import ROOT

VENV_BIN = Path(sys.executable).parent


def locked(set_name: str) -> dict[str, str]:
    """Name to pinned version of every requirement of requirements/<set>.txt that applies
    on this machine (uv's export: `name==version ; marker \\` then hash lines)."""
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements" / f"{set_name}.txt").read_text().splitlines():
        if not line or line[0] in " #":
            continue
        requirement = Requirement(line.rstrip(" \\"))
        if requirement.marker is None or requirement.marker.evaluate():
            (spec,) = requirement.specifier
            assert spec.operator == "==", line
            pins[canonicalize_name(requirement.name)] = spec.version
    return pins


def test_lock_matches_pyproject_and_exports() -> None:
    result = subprocess.run(["bash", "infra/lock.sh", "--check"], cwd=ROOT, text=True,
                            capture_output=True, env={**os.environ, "UV": str(VENV_BIN / "uv")})
    assert result.returncode == 0, result.stderr


def test_every_locked_package_is_installed_at_its_locked_version() -> None:
    pins = locked("dev") | locked("install")
    assert len(pins) > 50
    wrong = {}
    for name, version in pins.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "missing"
        if installed != version:
            wrong[name] = (version, installed)
    assert not wrong, f"installed versions differ from the lock (locked, installed): {wrong}"


def test_sets_agree_and_nest() -> None:
    """One resolution: a package pinned in several sets has one version, and each set holds
    the one below it (runtime in dev, dev in bench)."""
    runtime, dev, bench = locked("runtime"), locked("dev"), locked("bench")
    assert runtime.items() <= dev.items() <= bench.items()


def test_no_install_path_reads_the_open_ranges() -> None:
    """Every place that installs goes through the lock's hashed files."""
    dockerfile = (ROOT / "infra" / "Dockerfile").read_text()
    assert "--require-hashes" in dockerfile and "requirements/runtime.txt" in dockerfile
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install" not in makefile, "the Makefile installs through infra/install.sh"
    install = (ROOT / "infra" / "install.sh").read_text()
    assert "--require-hashes --no-deps" in install and "--no-build-isolation" in install
