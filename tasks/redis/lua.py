"""The one way a Lua script is loaded: its files, read from their package, after a prelude
that gives every script the project's key names as `NAME.<name>` (tasks/redis/keys.py).

Scripts take the keys of one call's own records as KEYS and derive the keys of related
records (a job's deliveries, an endpoint's held messages) from `NAME`: a script can then
never spell a name differently from Python.
"""

from __future__ import annotations

from importlib import resources

from tasks.redis.keys import LUA_NAMES


def _prelude() -> str:
    fields = ", ".join(f"{name} = '{value}'" for name, value in sorted(LUA_NAMES.items()))
    return f"local NAME = {{{fields}}}\n"


PRELUDE = _prelude()


def load_script(package: str, *files: str) -> str:
    """The source of one script: the prelude, then `files` of `package` in order (a shared
    library such as the token bucket goes first; `other.package:file.lua` names a file of
    another package)."""

    def read(name: str) -> str:
        where, _, file = name.rpartition(":")
        return resources.files(where or package).joinpath(file).read_text()

    return PRELUDE + "".join(read(name) for name in files)
