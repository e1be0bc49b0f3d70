"""Drawing a pipeline's DAG: a text tree for the terminal, Mermaid and Graphviz DOT.

The text tree hangs each step under its deepest input (so chains read top to bottom)
and lists any other inputs after ``<-``.
"""

from __future__ import annotations

import json

from keel.pipelines._graph import Graph, Node


def _label(node: Node) -> str:
    extras = []
    if not node.step.cache:
        extras.append("no cache")
    if node.step.retries:
        extras.append(f"retries={node.step.retries}")
    if node.step.timeout:
        extras.append(f"timeout={node.step.timeout:g}s")
    if not node.step.resources.is_empty:
        extras.append(node.step.resources.describe())
    return node.id + (f"  [{'; '.join(extras)}]" if extras else "")


def to_text(graph: Graph) -> list[str]:
    """The DAG as indented lines with box-drawing characters."""
    levels = graph.levels()
    depth = {n: i for i, level in enumerate(levels) for n in level}
    children: dict[str, list[str]] = {n: [] for n in graph.nodes}
    primary: dict[str, str | None] = {}
    for n, node in graph.nodes.items():
        deps = list(dict.fromkeys(node.deps))
        parent = max(deps, key=lambda d: (depth[d], deps.index(d))) if deps else None
        primary[n] = parent
        if parent is not None:
            children[parent].append(n)
    lines = [f"{graph.name}  ({len(graph)} steps, {len(levels)} levels)"]

    def draw(n: str, prefix: str, last: bool, root: bool) -> None:
        others = [d for d in dict.fromkeys(graph.nodes[n].deps) if d != primary[n]]
        tail = f"  <- {', '.join(others)}" if others else ""
        branch = "" if root else ("└── " if last else "├── ")
        lines.append(f"{prefix}{branch}{_label(graph.nodes[n])}{tail}")
        kids = children[n]
        for i, kid in enumerate(kids):
            extension = "" if root else ("    " if last else "│   ")
            draw(kid, prefix + extension, i == len(kids) - 1, False)

    for root in (n for n in graph.nodes if primary[n] is None):
        draw(root, "  ", True, True)
    return lines


def _mermaid_id(node_id: str, ids: dict[str, str]) -> str:
    return ids.setdefault(node_id, f"n{len(ids)}")


def to_mermaid(graph: Graph) -> str:
    ids: dict[str, str] = {}
    lines = ["flowchart TD"]
    for n, node in graph.nodes.items():
        label = _label(node).replace('"', "'")
        lines.append(f'    {_mermaid_id(n, ids)}["{label}"]')
    for n, node in graph.nodes.items():
        for dep in dict.fromkeys(node.deps):
            lines.append(f"    {_mermaid_id(dep, ids)} --> {_mermaid_id(n, ids)}")
    return "\n".join(lines) + "\n"


def to_dot(graph: Graph) -> str:
    lines = [f"digraph {json.dumps(graph.name)} {{", "    rankdir=TB;", "    node [shape=box];"]
    for n, node in graph.nodes.items():
        lines.append(f"    {json.dumps(n)} [label={json.dumps(_label(node))}];")
    for n, node in graph.nodes.items():
        for dep in dict.fromkeys(node.deps):
            lines.append(f"    {json.dumps(dep)} -> {json.dumps(n)};")
    lines.append("}")
    return "\n".join(lines) + "\n"
