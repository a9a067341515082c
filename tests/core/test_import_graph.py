"""No import cycle in the package: every import statement of every module (top level, in functions, under TYPE_CHECKING) is an edge."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "streaming"


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def import_graph() -> dict[str, set[str]]:
    """Module → the package modules it imports. ``from a.b import c`` is an edge to ``a.b.c`` when that is a module, else to ``a.b``."""
    files = {module_name(f): f for f in PKG.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for mod, f in files.items():
        is_pkg = f.name == "__init__.py"
        deps: set[str] = set()
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name in files)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: resolved against this module's package
                    parts = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
                for a in node.names:
                    target = f"{base}.{a.name}"
                    if target in files:
                        deps.add(target)
                    elif base in files:
                        deps.add(base)
        deps.discard(mod)
        graph[mod] = deps
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle (``[a, b, …, a]``) by depth-first search, or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                return path[path.index(d):] + [d]
            if d not in state and (c := visit(d)):
                return c
        path.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (c := visit(m)):
            return c
    return None


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import(tmp_path: Path) -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    # and the graph counts an import inside a function, as a cycle does at run time
    lazy = ast.parse("def f():\n    from streaming.core import client\n")
    assert any(isinstance(n, ast.ImportFrom) for n in ast.walk(lazy))


def test_the_graph_sees_lazy_and_type_checking_imports() -> None:
    graph = import_graph()
    assert "streaming.core.stream" in graph["streaming.core.client"]  # a top-level import
    assert "streaming.server.launcher" in graph["streaming.bench.engine"]  # inside a method
    assert "streaming.core.client_base" in graph["streaming.core.stream"]  # under TYPE_CHECKING


def test_no_import_cycle_in_the_package() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])
