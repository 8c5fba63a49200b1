"""Files that document or deploy the settings stay in step with the Settings class."""

from __future__ import annotations

import re

import pytest

from tasks.settings import Settings
from tests.support.servers import ROOT


def test_env_example_documents_every_setting() -> None:
    text = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", text, re.MULTILINE))
    expected = {name.upper() for name in Settings.model_fields}
    assert documented == expected, (expected - documented, documented - expected)


def test_env_example_defaults_are_the_real_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    from_example = Settings(_env_file=ROOT / ".env.example")
    defaults = Settings(_env_file=None)
    assert from_example.model_dump() == defaults.model_dump()
