"""One import direction: no module of `conformance/` or `conformance_suite/` reaches itself
through imports (lower layers first: profiles → spec → api → exchanges → targets → suite;
the commands in conformance/tools/ on top), and an import inside a function is a deliberate,
marked lazy import of something heavy or optional (`# lazy: <why>` in the statement), never a way
round a cycle. Read from the source (ast), so a cycle hidden in a function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("conformance", "conformance_suite")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


FILES = {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> set[str]:
    """The project modules an import statement loads (a `from pkg import name` names the
    submodule when there is one, else the package)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            parts = module.split(".")[: len(module.split(".")) - node.level + is_package]
            base = ".".join(parts + ([base] if base else []))
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in FILES else base
                 for a in node.names]
    return {name for name in names if name in FILES}


def _is_type_checking(node: ast.If) -> bool:
    return "TYPE_CHECKING" in ast.unparse(node.test)


def _scan(module: str, path: Path):
    """(every project module it imports, its imports inside functions as (line, text))."""
    source = path.read_text()
    lines = source.splitlines()
    edges: set[str] = set()
    inner: list[tuple[int, str]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                edges.update(_targets(child, module, path.name == "__init__.py"))
                if in_function:
                    text = "\n".join(lines[child.lineno - 1:child.end_lineno])
                    inner.append((child.lineno, text))
            elif isinstance(child, ast.If) and _is_type_checking(child):
                continue  # for the type checker only: never executed
            else:
                visit(child, in_function or isinstance(
                    child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(ast.parse(source), False)
    edges.discard(module)
    return edges, inner


SCANNED = {module: _scan(module, path) for module, path in FILES.items()}
GRAPH = {module: edges for module, (edges, _) in SCANNED.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle():
    """The check itself can fail: a three-module loop and a two-module loop are found."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"e"}, "e": {"d"}, "f": {"a"}}
    assert sorted(cycles(graph)) == [["a", "b", "c"], ["d", "e"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    """Counting imports inside functions too: no module reaches itself."""
    assert len(GRAPH) > 100
    assert cycles(GRAPH) == []


def test_the_layers_point_one_way():
    """The vocabulary does not import what is built on it."""
    order = ["conformance.profiles", "conformance.spec", "conformance.api",
             "conformance.exchanges"]
    for lower, higher in zip(order, order[1:], strict=False):
        assert higher not in _reaches(lower), f"{lower} imports {higher}"
    library = [m for m in GRAPH if not m.startswith(("conformance.tools", "conformance_suite",
                                                     "conformance.cli"))]
    for module in library:
        assert not any(m.startswith("conformance.tools") for m in GRAPH[module]), module
        assert not any(m.startswith("conformance_suite") for m in GRAPH[module]), module


def _reaches(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in GRAPH.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


@pytest.mark.parametrize("module", sorted(m for m, (_, inner) in SCANNED.items() if inner))
def test_imports_inside_functions_are_marked_lazy(module):
    """Each import inside a function says why it is lazy (`# lazy: <why>`)."""
    unmarked = [f"{FILES[module].relative_to(ROOT)}:{line}: {text.strip()}"
                for line, text in SCANNED[module][1]
                if "# lazy:" not in text or not text.split("# lazy:", 1)[1].strip()]
    assert unmarked == []


def test_no_import_is_stitched_in_at_the_bottom():
    """No `noqa: E402` (an import after code, the sign of a file split and re-joined)."""
    offenders = [str(p.relative_to(ROOT)) for p in FILES.values()
                 if "noqa: E402" in p.read_text()]
    assert offenders == []
