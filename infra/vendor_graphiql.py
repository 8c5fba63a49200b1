"""Fetch the files Strawberry's GraphiQL page loads from unpkg.com into
gateway/graphql/static/unpkg/, from the npm registry, checking each against its integrity hash.

Run it after upgrading strawberry-graphql: `python infra/vendor_graphiql.py` (needs npm).
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.graphql.graphiql import ASSETS_DIR, assets


def split(path: str) -> tuple[str, str]:
    """'@graphiql/plugin-explorer@1.0.2/dist/x.js' -> ('@graphiql/plugin-explorer@1.0.2',
    'dist/x.js')."""
    parts = path.split("/")
    cut = 2 if parts[0].startswith("@") else 1
    return "/".join(parts[:cut]), "/".join(parts[cut:])


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        for path, integrity in assets():
            package, inner = split(path)
            out = subprocess.run(["npm", "pack", "--silent", package], cwd=tmp, check=True,
                                 capture_output=True, text=True).stdout.strip().splitlines()
            with tarfile.open(Path(tmp) / out[-1]) as tar:
                member = tar.extractfile(f"package/{inner}")
                assert member is not None, path
                data = member.read()
            algorithm, _, expected = integrity.partition("-")
            actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
            if actual != expected:
                print(f"{path}: integrity mismatch", file=sys.stderr)
                return 1
            target = ASSETS_DIR / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            print(f"{path} ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
