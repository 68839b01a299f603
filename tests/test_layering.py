"""The architecture as DESIGN.md draws it: imports point down only (arena -> leagues -> agents ->
envs), only leagues/ray_executor.py imports ray, only arena imports pygame, and no module of
envs, leagues or arena takes part in an import cycle (function-level imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("envs", "agents", "leagues", "arena")  # each may import only those before it


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in LAYERS:
        for f in (ROOT / pkg).rglob("*.py"):
            name = ".".join(f.relative_to(ROOT).with_suffix("").parts)
            out[name.removesuffix(".__init__")] = f
    return out


MODULES = _modules()


def _imports(path: Path) -> set[str]:
    """Everything a module imports, anywhere in it: module names as written."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = {f"{node.module}.{a.name}" for a in node.names} & set(MODULES)
            found |= subs if len(subs) == len(node.names) else subs | {node.module}
    return found


def test_imports_point_down_only():
    wrong = []
    for name, path in MODULES.items():
        layer = LAYERS.index(name.split(".")[0])
        for imported in _imports(path):
            top = imported.split(".")[0]
            if top in LAYERS and LAYERS.index(top) > layer:
                wrong.append(f"{name} imports {imported}")
    assert not wrong, wrong


@pytest.mark.parametrize(("library", "allowed"), [("ray", {"leagues.ray_executor"}),
                                                  ("pygame", None)])
def test_heavy_libraries_stay_in_their_layer(library, allowed):
    users = {name for name, path in MODULES.items()
             if any(i.split(".")[0] == library for i in _imports(path))}
    if allowed is None:  # pygame: arena only
        assert users and all(u.startswith("arena") for u in users), users
    else:
        assert users == allowed


def test_no_import_cycles():
    graph = {m: {i for i in _imports(p) if i in MODULES and i != m} for m, p in MODULES.items()}
    cycles = []
    for start in graph:
        stack, seen = [(start, (start,))], set()
        while stack:
            node, path = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    cycles.append(" -> ".join((*path, start)))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, (*path, nxt)))
    assert not cycles, cycles[:5]
