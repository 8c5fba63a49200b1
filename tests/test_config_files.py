"""Files that document or deploy the settings stay in step with the Settings class."""

from __future__ import annotations

import re

from tasks.settings import Settings
from tests.servers import ROOT


def test_env_example_documents_every_setting() -> None:
    text = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", text, re.MULTILINE))
    expected = {name.upper() for name in Settings.model_fields}
    assert documented == expected, (expected - documented, documented - expected)


def test_env_example_defaults_are_the_real_defaults() -> None:
    text = (ROOT / ".env.example").read_text()
    for name, value in re.findall(r"^([A-Z][A-Z0-9_]+)=(.*)$", text, re.MULTILINE):
        default = Settings.model_fields[name.lower()].default
        assert str(default) in (value, value + ".0") or (default == "" and value == ""), name
