"""Imports inside core run one way: no module imports, even inside a function, one that
imports it back (core.data and core.csvdata once did)."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "core"


def core_imports(path: Path) -> set[str]:
    """The core modules a source file imports anywhere in it (top level or in a function)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative, so inside core
                base = f"core.{base}" if base else "core"
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    modules = {f"core.{p.stem}" for p in CORE.glob("*.py") if p.stem != "__init__"}
    return {name for name in names if name in modules}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            return cycle
    return None


def test_core_imports_have_no_cycle() -> None:
    graph = {f"core.{p.stem}": core_imports(p) for p in CORE.glob("*.py")}
    assert graph["core.data"] >= {"core.csvdata"}  # the scan sees what it should
    cycle = find_cycle(graph)
    assert cycle is None, "core imports go round: " + " -> ".join(cycle or [])


def test_find_cycle_reports_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None
