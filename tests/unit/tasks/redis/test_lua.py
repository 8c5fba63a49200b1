"""Lua loading (tasks/redis/lua.py): the names Lua gets are the names Python uses
(tasks/redis/keys.py), and every script is loaded one way."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tasks.redis import keys
from tasks.redis.lua import PRELUDE, load_script
from tests.support.servers import ROOT

LUA_FILES = sorted((ROOT / "tasks").rglob("*.lua"))


def test_prelude_holds_the_python_names() -> None:
    assert PRELUDE.startswith("local NAME = {")
    for name, value in keys.LUA_NAMES.items():
        assert f"{name} = '{value}'" in PRELUDE
    assert load_script("tasks.jobs", "recover.lua").startswith(PRELUDE)


@pytest.mark.parametrize("path", LUA_FILES, ids=lambda p: p.name)
def test_lua_scripts_spell_no_key_name(path: Path) -> None:
    source = path.read_text()
    assert keys.KEY_PREFIX not in source, "a key name belongs in tasks/redis/keys.py"
    used = set(re.findall(r"\bNAME\.(\w+)", source))
    assert used <= set(keys.LUA_NAMES), used - set(keys.LUA_NAMES)


def test_every_lua_file_is_loaded_through_load_script() -> None:
    loaders = "".join(p.read_text() for p in (ROOT / "tasks").rglob("store.py"))
    for path in LUA_FILES:  # by its own package ("x.lua") or another ("pkg:x.lua")
        assert f'"{path.name}"' in loaders or f':{path.name}"' in loaders, \
            f"{path} is not loaded by a store"
