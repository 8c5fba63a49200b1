"""The basic-auth file for NGINX (infra/htpasswd.py)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from infra import htpasswd


@pytest.mark.parametrize(("password", "salt", "expected"), [
    # Made with `openssl passwd -apr1 -salt SALT PASSWORD`.
    ("secret", "abcdefgh", "$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/"),
    ("", "12345678", "$apr1$12345678$sHuPAw7VA9xjRbJz7zKV7/"),
    ("a" * 40, "xyZ./123", "$apr1$xyZ./123$I2L6IjGAxumTJ2iQLjkeF/"),
    ("pässword", "Qq9.Qq9.", "$apr1$Qq9.Qq9.$yvRXQJwiGzEuvC3OLCNuQ0"),
])
def test_apr1_matches_openssl(password: str, salt: str, expected: str) -> None:
    assert htpasswd.apr1(password, salt) == expected


def test_apr1_salts_differ() -> None:
    assert htpasswd.apr1("pw") != htpasswd.apr1("pw")


def test_htpasswd_file(tmp_path: Path) -> None:
    target = tmp_path / "auth" / "htpasswd"
    htpasswd.write(target, "ann:pw:with:colons,bob:x")
    lines = target.read_text().splitlines()
    assert [line.split(":", 1)[0] for line in lines] == ["ann", "bob"]
    salt = lines[0].split("$")[2]
    assert lines[0] == "ann:" + htpasswd.apr1("pw:with:colons", salt)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert "pw:with" not in target.read_text()
    with pytest.raises(ValueError, match="empty"):
        htpasswd.write(target, "")
