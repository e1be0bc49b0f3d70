"""The DAG a pipeline builds: nodes (one step call each), the references between them,
and the checks and orders the runners need.

Step arguments keep their shape; every upstream output inside them is a :class:`Ref`,
so ``train(data[0], params={"folds": folds})`` records exactly which outputs it reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from keel.exceptions import InvalidArgumentError

if TYPE_CHECKING:
    from keel.pipelines._step import Step


@dataclass(frozen=True, slots=True)
class Ref:
    """An upstream node's output, or one element of it (``path`` indexes into tuples/dicts)."""

    node: str
    path: tuple[int | str, ...] = ()

    def __repr__(self) -> str:
        return self.node + "".join(f"[{p!r}]" for p in self.path)


@dataclass
class Node:
    """One call of a step inside a pipeline."""

    id: str
    step: Step
    arguments: dict[str, Any]  # parameter name -> value, with Refs for upstream outputs
    deps: tuple[str, ...] = ()
    group: str | None = None  # the fan-out this node belongs to (``step.map``)

    @property
    def name(self) -> str:
        return self.step.name


def iter_refs(value: Any) -> Iterator[Ref]:
    """Every Ref inside a (nested) value, in order."""
    if isinstance(value, Ref):
        yield value
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from iter_refs(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from iter_refs(item)


def substitute(value: Any, fn: Callable[[Ref], Any]) -> Any:
    """``value`` with every Ref replaced by ``fn(ref)``; the containers keep their types."""
    if isinstance(value, Ref):
        return fn(value)
    if isinstance(value, list):
        return [substitute(v, fn) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(substitute(v, fn) for v in value)
    if isinstance(value, dict):
        return {k: substitute(v, fn) for k, v in value.items()}
    return value


def has_refs(value: Any) -> bool:
    return next(iter_refs(value), None) is not None


@dataclass
class Graph:
    """Nodes in the order they were added, plus the pipeline's return value (with Refs)."""

    name: str
    nodes: dict[str, Node] = field(default_factory=dict)
    outputs: Any = None
    params: dict[str, Any] = field(default_factory=dict)

    def add(self, node: Node) -> Node:
        if node.id in self.nodes:
            raise InvalidArgumentError(f"pipeline {self.name!r} already has a node {node.id!r}")
        self.nodes[node.id] = node
        return node

    def __len__(self) -> int:
        return len(self.nodes)

    def downstream(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {n: [] for n in self.nodes}
        for node in self.nodes.values():
            for dep in node.deps:
                out.setdefault(dep, []).append(node.id)
        return out

    def order(self) -> list[str]:
        """A topological order; raises when a dependency is missing or the nodes form a cycle."""
        for node in self.nodes.values():
            for dep in node.deps:
                if dep not in self.nodes:
                    raise InvalidArgumentError(
                        f"step {node.id!r} of pipeline {self.name!r} reads the output of "
                        f"{dep!r}, which is not a step of this pipeline"
                    )
        indegree = {n: len(set(node.deps)) for n, node in self.nodes.items()}
        down = self.downstream()
        ready = [n for n, d in indegree.items() if d == 0]
        order: list[str] = []
        while ready:
            current = ready.pop(0)
            order.append(current)
            for nxt in dict.fromkeys(down[current]):
                indegree[nxt] -= 1
                if indegree[nxt] == 0:
                    ready.append(nxt)
        if len(order) != len(self.nodes):
            cycle = self._find_cycle({n for n, d in indegree.items() if d > 0})
            raise InvalidArgumentError(
                f"pipeline {self.name!r} has a cycle: {' -> '.join(cycle)}; a step cannot "
                "depend on its own output, directly or through other steps"
            )
        return order

    def _find_cycle(self, candidates: set[str]) -> list[str]:
        state: dict[str, int] = {}
        stack: list[str] = []

        def visit(n: str) -> list[str] | None:
            state[n] = 1
            stack.append(n)
            for dep in self.nodes[n].deps:
                if state.get(dep) == 1:
                    return [*stack[stack.index(dep) :], dep]
                if dep in candidates and dep not in state and (found := visit(dep)):
                    return found
            stack.pop()
            state[n] = 2
            return None

        for n in sorted(candidates):
            if n not in state and (found := visit(n)):
                return list(reversed(found))
        return sorted(candidates)  # pragma: no cover - Kahn found a cycle, DFS must too

    def levels(self) -> list[list[str]]:
        """Nodes grouped by depth: every node sits one level below its deepest input."""
        depth: dict[str, int] = {}
        for n in self.order():
            depth[n] = 1 + max((depth[d] for d in self.nodes[n].deps), default=-1)
        out: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
        for n, d in depth.items():
            out[d].append(n)
        return out

    def output_refs(self) -> list[Ref]:
        return list(iter_refs(self.outputs))
