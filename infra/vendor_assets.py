"""Fetch the browser files the project serves itself from the npm registry, each checked
against the integrity hash of the page that loads it, so no page needs a CDN:
- GraphiQL's: Strawberry's page names them on unpkg.com with their hashes
  (gateway/graphql/graphiql.py); into gateway/graphql/static/unpkg/.
- the frontend example's: nginx/app/index.html's import map pins them with their hashes;
  into nginx/app/vendor/.
Each package's license file goes beside its files.

Run it after upgrading strawberry-graphql, or after changing a pin in the app's import map:
`python infra/vendor_assets.py` (needs npm).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script

from gateway.graphql import graphiql
from infra.nginx_conf import APP_ROOT as APP_DIR

APP_VENDOR = "./vendor/"  # the import map's paths start so
_IMPORT_MAP = re.compile(r'<script type="importmap">(?P<map>.*?)</script>', re.DOTALL)
_LICENSE = re.compile(r"package/(LICEN[CS]E|COPYING)(\.md|\.txt)?", re.IGNORECASE)

Pins = list[tuple[str, str]]  # (package@version/file, integrity)


class AssetSet(NamedTuple):
    name: str
    directory: Path  # the files go to directory/package@version/file
    pins: Callable[[], Pins]


def app_assets() -> Pins:
    """(path under nginx/app/vendor/, integrity) of every file the app's import map pins."""
    found = _IMPORT_MAP.search((APP_DIR / "index.html").read_text())
    assert found, "nginx/app/index.html has no import map"
    integrity: dict[str, str] = json.loads(found["map"])["integrity"]
    return [(url.removeprefix(APP_VENDOR), value) for url, value in integrity.items()]


SETS = (AssetSet("graphiql", graphiql.ASSETS_DIR, graphiql.assets),
        AssetSet("app", APP_DIR / "vendor", app_assets))


def split(path: str) -> tuple[str, str]:
    """'@graphiql/plugin-explorer@1.0.2/dist/x.js' -> ('@graphiql/plugin-explorer@1.0.2',
    'dist/x.js')."""
    parts = path.split("/")
    cut = 2 if parts[0].startswith("@") else 1
    return "/".join(parts[:cut]), "/".join(parts[cut:])


def matches(data: bytes, integrity: str) -> bool:
    """Whether `data` has this Subresource Integrity hash ('sha384-<base64>')."""
    algorithm, _, expected = integrity.partition("-")
    return base64.b64encode(hashlib.new(algorithm, data).digest()).decode() == expected


def pack(package: str, tmp: Path) -> tarfile.TarFile:
    """The package's tarball from the npm registry (npm checks it against the registry's
    own integrity hash)."""
    out = subprocess.run(["npm", "pack", "--silent", package], cwd=tmp, check=True,
                         capture_output=True, text=True).stdout.strip().splitlines()
    return tarfile.open(tmp / out[-1])


def vendor(assets: AssetSet, tmp: Path) -> bool:
    packages: dict[str, tarfile.TarFile] = {}
    for path, integrity in assets.pins():
        package, inner = split(path)
        if package not in packages:
            packages[package] = pack(package, tmp)
        member = packages[package].extractfile(f"package/{inner}")
        assert member is not None, path
        data = member.read()
        if not matches(data, integrity):
            print(f"{assets.name}: {path}: integrity mismatch", file=sys.stderr)
            return False
        target = assets.directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        print(f"{assets.name}: {path} ok")
    for package, tar in packages.items():
        for name in (n for n in tar.getnames() if _LICENSE.fullmatch(n)):
            member = tar.extractfile(name)
            assert member is not None, name
            (assets.directory / package / Path(name).name).write_bytes(member.read())
        tar.close()
    return True


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        return 0 if all(vendor(assets, Path(tmp)) for assets in SETS) else 1


if __name__ == "__main__":
    sys.exit(main())
