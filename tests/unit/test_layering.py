"""The tree's dependencies point one way (README "Where things live"): read from the import
statements of every module, without importing anything."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.support.servers import ROOT

PACKAGES = ("gateway", "tasks", "worker")

# (importer prefix, imported prefixes it must not reach)
FORBIDDEN = [
    ("tasks", ("gateway", "worker")),
    ("tasks.redis", ("tasks.jobs", "tasks.webhooks")),  # names and clients sit below features
    ("tasks.tracing", ("tasks.jobs", "tasks.webhooks", "tasks.redis")),  # so does the trace
    ("worker", ("gateway",)),
    ("worker.jobs", ("worker.webhooks",)),
    ("worker.webhooks", ("worker.jobs",)),
    ("gateway.services", ("gateway.app", "gateway.asgi", "gateway.rest", "gateway.graphql")),
    ("gateway.asgi", ("gateway.app", "gateway.rest", "gateway.graphql")),
    ("gateway.rest", ("gateway.app", "gateway.graphql")),
    ("gateway.graphql", ("gateway.app", "gateway.rest")),
]


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> Iterator[str]:
    """The project's modules that `path` imports (`from a import b` counts as a.b when b
    is a module)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known
                     else node.module for a in node.names]
        else:
            continue
        yield from (name for name in names if name.split(".")[0] in PACKAGES)


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def graph() -> dict[str, set[str]]:
    known = modules()
    assert {"gateway.app", "tasks.settings", "worker.jobs.app"} <= set(known), ROOT
    return {name: {i for i in imports(path, known) if i != name} for name, path in known.items()}


def test_no_module_reaches_across_or_up_a_floor() -> None:
    wrong = sorted(f"{importer} imports {imported}"
                   for importer, targets in graph().items() for imported in targets
                   for prefix, forbidden in FORBIDDEN
                   if within(importer, prefix) and any(within(imported, f) for f in forbidden))
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle() -> None:
    edges = {name: {t for t in targets if t in modules()} for name, targets in graph().items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(edges.get(name, ())):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target):], target])
            elif target not in state:
                visit(target, [*path, target])
        state[name] = 2

    for name in sorted(edges):
        if name not in state:
            visit(name, [name])
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)
