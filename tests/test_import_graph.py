"""The import graph of the project's own modules: no cycles, and the layers point one way.

Imports are read with ast from api/, models/, app/ and threadline_client/, at module level and
inside functions (a lazy import that dodges a cycle is still a cycle, and there are none);
imports under `if TYPE_CHECKING:` never run and do not count. `models`
imports nothing from `api` or `app`, `api` nothing from `app`, and the client nothing from the
server.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("api", "models", "app", "threadline_client")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "node_modules" in path.parts or ".web" in path.parts:
                continue
            found[_module_name(path)] = path
    return found


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(tree: ast.AST) -> list[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement with whether it runs lazily (inside a function). Imports under
    `if TYPE_CHECKING:` never run and are left out."""
    found: list[tuple[ast.Import | ast.ImportFrom, bool]] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if _is_type_checking(child):
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.append((child, lazy))
            inner = lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            visit(child, inner)

    visit(tree, False)
    return found


def _imported(node: ast.Import | ast.ImportFrom, name: str, is_package: bool) -> set[str]:
    """The modules one statement imports; `from x import y` counts x.y when y is a module."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    if node.level:
        base = name.split(".") if is_package else name.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        module = ".".join([*base, node.module] if node.module else base)
    else:
        module = node.module or ""
    return {module, *(f"{module}.{alias.name}" for alias in node.names)}


def _graph(*, lazy: bool) -> dict[str, set[str]]:
    """Each module of the project and the project's modules it imports (with `lazy`, counting
    the imports inside functions too)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node, is_lazy in _imports(tree):
            if is_lazy and not lazy:
                continue
            for target in _imported(node, name, path.name == "__init__.py"):
                # A module's import of its own package (implicit in Python) is no edge.
                if target in modules and target != name and not name.startswith(target + "."):
                    graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return _graph(lazy=True)


def test_the_graph_is_read(graph):
    assert "api.functions.users" in graph
    assert "api.services.people" in graph["api.functions.users"]
    assert "api.services.links" in graph["api.functions.users"]
    # An import inside a function counts (api.cli imports the demo data lazily).
    assert "api.demo" in graph["api.cli"]
    assert sum(len(targets) for targets in graph.values()) > 100


def test_no_import_cycles_at_module_level():
    graph = _graph(lazy=False)
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


def test_no_cycles_through_lazy_imports(graph):
    # (The last ones, api.auth -> api.sync.convex_auth -> sign-in -> api.auth and
    # app.components.versions <-> app.worker_reads, went with api/credentials.py and the display
    # cuts' move to app/formatting.py.)
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("models", ("api", "app", "threadline_client")),
        ("api", ("app",)),
        ("threadline_client", ("api", "app", "models")),
    ],
)
def test_layers_point_one_way(graph, package, forbidden):
    wrong = [
        (source, target)
        for source, targets in graph.items()
        for target in targets
        if source.split(".")[0] == package and target.split(".")[0] in forbidden
    ]
    assert wrong == []
