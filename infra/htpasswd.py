"""Write NGINX's basic-auth file from FLOWER_BASIC_AUTH (`user:password[,user:password]`).

`python -m infra.htpasswd FILE` (docker compose runs it once before nginx starts);
`make up` calls `write()`. Passwords are hashed with Apache's APR1-MD5 (`$apr1$`), which
nginx verifies itself, on every build and platform, whatever its C library's crypt()
supports (bcrypt would need libxcrypt; `{PLAIN}` would store the password).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sys
from pathlib import Path

from tasks.dashboard_auth import pairs

_ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _to64(value: int, length: int) -> str:
    out = ""
    for _ in range(length):
        out += _ITOA64[value & 0x3F]
        value >>= 6
    return out


def apr1(password: str, salt: str | None = None) -> str:
    """Apache's MD5-based crypt, `$apr1$<salt>$<hash>` (as `openssl passwd -apr1`)."""
    salt = (salt or "".join(secrets.choice(_ITOA64) for _ in range(8)))[:8]
    pw, magic, s = password.encode(), b"$apr1$", salt.encode()
    alternate = hashlib.md5(pw + s + pw, usedforsecurity=False).digest()
    ctx = pw + magic + s
    for i in range(len(pw), 0, -16):
        ctx += alternate[:min(16, i)]
    i = len(pw)
    while i:
        ctx += b"\x00" if i & 1 else pw[:1]
        i >>= 1
    digest = hashlib.md5(ctx, usedforsecurity=False).digest()
    for i in range(1000):  # the algorithm's fixed stretching
        round_input = (pw if i & 1 else digest) + (s if i % 3 else b"") + (
            pw if i % 7 else b"") + (digest if i & 1 else pw)
        digest = hashlib.md5(round_input, usedforsecurity=False).digest()
    d = digest
    encoded = "".join(_to64((d[a] << 16) | (d[b] << 8) | d[c], 4) for a, b, c in
                      ((0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)))
    return f"$apr1${salt}${encoded}{_to64(d[11], 2)}"


def render(basic_auth: str) -> str:
    return "".join(f"{user}:{apr1(password)}\n" for user, password in pairs(basic_auth))


def write(path: Path, basic_auth: str, mode: int = 0o600, group: int | None = None) -> None:
    """Write atomically; `group` (with mode 0o640) lets nginx's unprivileged workers read
    it when the master runs as root."""
    if not pairs(basic_auth):
        raise ValueError("FLOWER_BASIC_AUTH is empty: no credentials for the dashboards")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as out:
        out.write(render(basic_auth))
    os.chmod(tmp, mode)
    if group is not None:
        os.chown(tmp, -1, group)
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    # Imported here: the module also serves the settings-free docker compose one-shot.
    from tasks.settings import get_settings

    if len(argv) != 1:
        print("usage: python -m infra.htpasswd FILE", file=sys.stderr)
        return 2
    basic_auth = get_settings().flower_basic_auth.get_secret_value()
    # Only nginx's container mounts the file's volume; its workers run as another user.
    try:
        write(Path(argv[0]), basic_auth, mode=0o644)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"wrote {argv[0]} for {len(pairs(basic_auth))} user(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
