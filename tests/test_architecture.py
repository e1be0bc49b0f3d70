"""The import graph of keel has no cycles (DESIGN, plumbing rule 7), and no module or
function outside the migrations is over the size limits (keel issue 12).

grimp (installed with import-linter) builds the graph from every import statement, those
inside functions included, so a cycle hidden behind a lazy import still counts; imports
under ``if TYPE_CHECKING:`` do not. A cycle is a strongly connected component of more than
one module.

:data:`KNOWN` listed the cycles that existed when this test was written; they are all
gone, so it is empty and the test fails on any cycle.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import grimp

import keel

#: Cycles allowed to remain: none since the plumbing renovation (keel issue 12). Keep it
#: empty; a new cycle is fixed by moving the shared piece down a layer, not listed here.
KNOWN: set[frozenset[str]] = set()


def import_cycles() -> set[frozenset[str]]:
    """Every strongly connected component of keel's import graph with 2+ modules."""
    graph = grimp.build_graph("keel", exclude_type_checking_imports=True)
    edges = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[frozenset[str]] = set()

    def visit(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.add(frozenset(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(edges)))
    try:
        for module in sorted(edges):
            if module not in index:
                visit(module)
    finally:
        sys.setrecursionlimit(limit)
    return found


def test_no_new_import_cycles() -> None:
    cycles = import_cycles()
    new = [sorted(c) for c in cycles - KNOWN]
    assert new == [], f"new import cycles (move the shared piece down a layer): {new}"
    gone = [sorted(c) for c in KNOWN - cycles]
    assert gone == [], f"these cycles are gone: delete them from KNOWN: {gone}"


def test_the_store_and_the_server_api_have_none() -> None:
    """The persistence layer and the REST API are cycle-free, the store's remote backend
    included (it hands its parts to ``open_store`` instead of importing ``keel.store``)."""
    for cycle in import_cycles():
        for module in cycle:
            assert not module.startswith(("keel.store", "keel.server.api", "keel.server.mlflow"))


# -- sizes ---------------------------------------------------------------------------------
#: A module holds at most this many lines, a function (``def`` line to its last line,
#: nested functions counted in their parent too) at most that many; migrations are exempt
#: (each is one schema change, written once).
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 50

#: Paths allowed over the size limits: none left (keel issue 12); a path is never added.
SIZE_ALLOWED: tuple[str, ...] = ()


def _sources() -> list[tuple[str, Path]]:
    root = Path(keel.__file__).parent
    out = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if "/migrations/" in f"/{rel}" or rel.startswith(SIZE_ALLOWED):
            continue
        out.append((rel, path))
    return out


def test_no_module_over_the_size_limit() -> None:
    big = []
    for rel, path in _sources():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            big.append(f"{rel}: {lines} lines")
    assert big == [], f"split these modules along a real seam (at most {MAX_MODULE_LINES}): {big}"


def test_no_function_over_the_size_limit() -> None:
    long = []
    for rel, path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{rel}:{node.lineno} {node.name}: {lines} lines")
    assert long == [], (
        f"extract the sub-steps of these functions (at most {MAX_FUNCTION_LINES} lines): {long}"
    )


def test_the_size_allow_list_names_real_paths() -> None:
    root = Path(keel.__file__).parent
    for entry in SIZE_ALLOWED:
        assert (root / entry).exists(), f"{entry} is gone: delete it from SIZE_ALLOWED"
