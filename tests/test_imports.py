"""Dependencies inside mcbridge point one way: the module import graph has no cycle.

Every module under `mcbridge/` is parsed with `ast` (nothing is imported);
each import of an mcbridge module, at module level or inside a function, is
an edge: `import mcbridge.x`, `from mcbridge import x` and
`from mcbridge.x import y` (and `from mcbridge.x import y` where `y` is a
submodule: an edge to `mcbridge.x.y` too). A name that `mcbridge/__init__.py`
re-exports (`from mcbridge import mc_predict`) is an edge to the module that
defines it. `mcbridge/__init__.py` itself is no source of edges: it is the
lazy re-export hub, which imports nothing until a name is asked for. Imports
under `if TYPE_CHECKING:` never run and are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mcbridge"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _literal(tree: ast.Module, name: str):
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    return None


def _reexports() -> dict[str, str]:
    """Names that `mcbridge/__init__.py` hands out -> the module defining each."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    return dict(_literal(tree, "_EXPORTS") or {})


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST):
    """The `Import` / `ImportFrom` nodes that can run (not under `if TYPE_CHECKING:`)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph() -> dict[str, set[str]]:
    """`{module: the mcbridge modules it imports}` for every module of the package."""
    modules = _modules()
    reexports = _reexports()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        if name == "mcbridge":
            continue  # the lazy hub
        tree = ast.parse(path.read_text(), filename=str(path))
        targets = graph[name]
        for node in _imports(tree):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
                continue
            source = _absolute(node, name, path.name == "__init__.py")
            targets.add(source)
            for alias in node.names:
                child = f"{source}.{alias.name}"
                if child in modules:
                    targets.add(child)
                elif source == "mcbridge" and alias.name in reexports:
                    targets.add(reexports[alias.name])
        graph[name] = {t for t in targets if t in modules and t != name and t != "mcbridge"}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Cycles `[a, b, ..., a]`: a shortest one through each module that lies on any."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm (the package is small: recursion is fine)
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    found, seen = [], set()
    for group in groups:  # a shortest cycle through each module of the group, each cycle once
        for v in sorted(group):
            cycle = _cycle_through(v, graph, group)
            key = frozenset(zip(cycle, cycle[1:]))
            if key not in seen:
                seen.add(key)
                found.append(cycle)
    return found


def _cycle_through(start: str, graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A shortest cycle from `start` back to it inside `group` (breadth first)."""
    parent: dict[str, str | None] = {start: None}
    queue = [start]
    for v in queue:
        for w in sorted(graph[v] & group):
            if w == start:
                path = [v]
                while parent[path[-1]] is not None:
                    path.append(parent[path[-1]])
                return path[::-1] + [start]
            if w not in parent:
                parent[w] = v
                queue.append(w)
    raise AssertionError(f"{sorted(group)} is no strongly connected group")


def test_the_graph_sees_every_kind_of_import():
    graph = import_graph()
    assert "mcbridge.metrics._common" in graph["mcbridge.metrics.calibration"]  # from mcbridge.x import y
    assert "mcbridge.metrics.calibration" in graph["mcbridge.evaluation"]  # from mcbridge.x import submodule
    assert "mcbridge.datasets" in graph["mcbridge.cli"]  # from mcbridge import x, in a function
    assert "mcbridge.models" in graph["mcbridge.cli"]  # a name __init__ re-exports
    assert not graph["mcbridge"]  # the lazy hub is no source


def test_cycles_are_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle():
    found = cycles(import_graph())
    assert not found, "import cycles in mcbridge/:\n" + "\n".join(" -> ".join(c) for c in found)
