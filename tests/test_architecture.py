"""The import graph of keel has no cycles (DESIGN, plumbing rule 7).

grimp (installed with import-linter) builds the graph from every import statement, those
inside functions included, so a cycle hidden behind a lazy import still counts; imports
under ``if TYPE_CHECKING:`` do not. A cycle is a strongly connected component of more than
one module.

:data:`KNOWN` listed the cycles that existed when this test was written; they are all
gone, so it is empty and the test fails on any cycle.
"""

from __future__ import annotations

import sys

import grimp

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
