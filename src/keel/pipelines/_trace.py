"""Building a DAG by calling the pipeline function: step calls return lazy handles.

While a pipeline function runs under :func:`tracing`, calling a step records a node and
returns a :class:`Handle` to its future output. A handle can be passed to other steps,
indexed (``split[0]``) or unpacked when the step declares how many outputs it has; using
it as a value (``if handle > 0``) fails with a message saying to move that into a step.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, NoReturn

from keel.exceptions import InvalidArgumentError
from keel.pipelines._graph import Graph, Node, Ref, iter_refs

if TYPE_CHECKING:
    from keel.pipelines._step import Step

_TRACER: ContextVar[Tracer | None] = ContextVar("keel_pipeline_tracer", default=None)
_ids = itertools.count(1)


class Handle:
    """The future output of one step call inside a pipeline being built."""

    __slots__ = ("_n", "_ref", "_step", "_tracer")

    def __init__(self, ref: Ref, step: str, n_outputs: int | None, tracer: int) -> None:
        self._ref = ref
        self._step = step
        self._n = n_outputs
        self._tracer = tracer

    def __repr__(self) -> str:
        return f"<output of step {self._ref!r}>"

    def __getitem__(self, key: int | str) -> Handle:
        if not isinstance(key, (int, str)):
            raise InvalidArgumentError(
                f"index the output of step {self._step!r} with an int or a str, not {key!r}"
            )
        ref = Ref(self._ref.node, (*self._ref.path, key))
        return Handle(ref, self._step, None, self._tracer)

    def __iter__(self) -> Iterator[Handle]:
        if self._n is None:
            raise TypeError(
                f"cannot unpack the output of step {self._step!r}: keel does not know how "
                f"many values it returns. Annotate it (-> tuple[A, B]) or declare "
                f"@keel.step(outputs=2), or index it: out[0], out[1]"
            )
        return (self[i] for i in range(self._n))

    def _refuse(self, *_: Any) -> NoReturn:
        raise TypeError(
            f"the output of step {self._step!r} does not exist yet while the pipeline is "
            "being built; pass it to another step and do this work inside that step"
        )

    __bool__ = __len__ = __float__ = __int__ = __index__ = __hash__ = _refuse
    __lt__ = __le__ = __gt__ = __ge__ = __add__ = __sub__ = __mul__ = _refuse
    __truediv__ = __radd__ = __rsub__ = __rmul__ = __call__ = _refuse

    def __eq__(self, other: object) -> bool:
        return self._refuse()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise TypeError(
            f"the output of step {self._step!r} does not exist yet while the pipeline is "
            f"being built, so it has no attribute {name!r}; use it inside a step"
        )


class Tracer:
    """Collects the nodes of one pipeline build."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.id = next(_ids)
        self.counts: Counter[str] = Counter()
        self.stack: list[str] = []  # pipelines being traced, to catch recursion

    def call(
        self,
        step: Step,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        *,
        node_id: str | None = None,
        group: str | None = None,
    ) -> Handle:
        arguments = step.bind(args, kwargs)
        arguments = {k: self.to_refs(v, step.name) for k, v in arguments.items()}
        deps = tuple(dict.fromkeys(r.node for r in iter_refs(arguments)))
        if node_id is None:
            self.counts[step.name] += 1
            n = self.counts[step.name]
            node_id = step.name if n == 1 else f"{step.name}#{n}"
        self.graph.add(Node(node_id, step, arguments, deps, group))
        return Handle(Ref(node_id), step.name, step.n_outputs, self.id)

    def to_refs(self, value: Any, where: str) -> Any:
        """Handles inside ``value`` become Refs; a handle of another pipeline build is refused."""
        if isinstance(value, Handle):
            if value._tracer != self.id:
                raise InvalidArgumentError(
                    f"step {where!r} received {value!r} from another pipeline build; "
                    "outputs cannot be shared between pipeline runs"
                )
            return value._ref
        if isinstance(value, list):
            return [self.to_refs(v, where) for v in value]
        if isinstance(value, tuple) and not hasattr(value, "_fields"):
            return tuple(self.to_refs(v, where) for v in value)
        if isinstance(value, dict):
            return {k: self.to_refs(v, where) for k, v in value.items()}
        return value

    def next_group(self, name: str) -> str:
        self.counts[f"map:{name}"] += 1
        n = self.counts[f"map:{name}"]
        return name if n == 1 else f"{name}#{n}"


def current_tracer() -> Tracer | None:
    return _TRACER.get()


@contextmanager
def tracing(graph: Graph) -> Iterator[Tracer]:
    tracer = Tracer(graph)
    token = _TRACER.set(tracer)
    try:
        yield tracer
    finally:
        _TRACER.reset(token)
