"""A layered drawing of a directed graph (pipeline DAGs, lineage), rendered as SVG.

Layers are longest paths from the sources (so every edge points right); within a layer,
nodes are ordered by the mean position of their predecessors, which removes most
crossings in the graphs keel draws (chains and fans). The template escapes every label.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

NODE_W = 190
NODE_H = 42
COL_W = 250
ROW_H = 58
MARGIN = 16
TOP = 40  # room above the first row for edges that arc over a layer


@dataclass
class Node:
    id: str
    label: str
    kind: str  # css class: dataset | run | model | deployment | cached | ran | failed ...
    href: str = ""
    sub: str = ""
    title: str = ""
    focus: bool = False
    x: float = 0
    y: float = 0


@dataclass
class Layout:
    nodes: list[Node]
    paths: list[str]
    width: int
    height: int
    edges: list[tuple[str, str]] = field(default_factory=list)


def _layers(ids: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    preds: dict[str, list[str]] = defaultdict(list)
    for a, b in edges:
        preds[b].append(a)
    layer: dict[str, int] = {}

    def depth(node: str, seen: frozenset[str]) -> int:
        if node in layer:
            return layer[node]
        if node in seen:  # a cycle (never in a DAG): cut it here
            return 0
        found = max((depth(p, seen | {node}) + 1 for p in preds[node]), default=0)
        layer[node] = found
        return found

    for node in ids:
        depth(node, frozenset())
    return layer


def layout(nodes: list[Node], edges: list[tuple[str, str]]) -> Layout:
    """Place ``nodes`` in columns by layer and draw ``edges`` as curves."""
    by_id = {n.id: n for n in nodes}
    edges = [(a, b) for a, b in dict.fromkeys(edges) if a in by_id and b in by_id and a != b]
    layer = _layers([n.id for n in nodes], edges)
    columns: dict[int, list[Node]] = defaultdict(list)
    for node in nodes:
        columns[layer[node.id]].append(node)
    preds: dict[str, list[str]] = defaultdict(list)
    for a, b in edges:
        preds[b].append(a)
    row: dict[str, float] = {}
    for col in sorted(columns):
        members = columns[col]
        members.sort(key=lambda n: (_mean(row[p] for p in preds[n.id] if p in row), n.label))
        for i, node in enumerate(members):
            row[node.id] = i
            node.x = MARGIN + col * COL_W
            node.y = TOP + i * ROW_H
    paths = [_curve(by_id[a], by_id[b]) for a, b in edges]
    width = MARGIN * 2 + max(columns, default=0) * COL_W + NODE_W
    height = TOP + MARGIN + max((len(m) for m in columns.values()), default=1) * ROW_H
    return Layout(nodes, paths, width, height, edges)


def _mean(values: Iterable[float]) -> float:
    items = list(values)
    return sum(items) / len(items) if items else 0.0


def _curve(a: Node, b: Node) -> str:
    """A curve from ``a``'s right side to ``b``'s left side; an edge that skips a layer
    arcs over the row instead of running through the boxes between."""
    x1, y1 = a.x + NODE_W, a.y + NODE_H / 2
    x2, y2 = b.x, b.y + NODE_H / 2
    if x2 - x1 > COL_W:
        top = min(a.y, b.y) - (TOP - 8)
        return (
            f"M{x1:.1f},{y1:.1f} C{x1 + 40:.1f},{top:.1f} {x2 - 40:.1f},{top:.1f} {x2:.1f},{y2:.1f}"
        )
    mid = (x1 + x2) / 2
    return f"M{x1:.1f},{y1:.1f} C{mid:.1f},{y1:.1f} {mid:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"


__all__ = ["NODE_H", "NODE_W", "Layout", "Node", "layout"]
