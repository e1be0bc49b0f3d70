"""``@keel.pipeline``: a function whose step calls make a DAG, and running that DAG.

Calling the decorated function runs the pipeline and returns what the function returns,
with real values in place of step outputs::

    @keel.pipeline
    def train(lr: float = 0.1):
        data = load()
        return fit(data, lr)

    model = train(lr=0.2)              # runs (cached steps are not re-run)
    result = train.run({"lr": 0.2}, runner="processes")   # the run, with step details

The store is the one :func:`keel.pipelines.testing.isolated_store` provides, or the
process's default tracking client (``keel.init`` / ``KEEL_*`` settings).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, overload

from keel.exceptions import InvalidArgumentError, StepFailedError
from keel.pipelines._codeversion import WrapsFunction
from keel.pipelines._executor import Execution, ExecutionOptions, NodeState, StepHook
from keel.pipelines._graph import Graph, Ref, has_refs, substitute
from keel.pipelines._params import ParamSpec, param_specs, resolve_params
from keel.pipelines._record import Recorder
from keel.pipelines._runner_api import Runner
from keel.pipelines._runners import make_runner
from keel.pipelines._trace import current_tracer, tracing
from keel.store import RunStatus, Store
from keel.store.entities import DatasetVersion
from keel.store.pipelines import StepRunInfo, StepStatus
from keel.store.projects import existing_project

_CONTEXT: ContextVar[tuple[Store, str] | None] = ContextVar("keel_pipeline_store", default=None)
#: Set by ``keel models reproduce``: re-run every step, read the recorded dataset versions.
_REPRODUCE_OF = "KEEL_REPRODUCE_OF"
_REPRODUCE_DATASETS = "KEEL_REPRODUCE_DATASETS"


@contextmanager
def using_store(store: Store, project: str = "default") -> Iterator[Store]:
    """Run pipelines called in this block against ``store`` (and ``project``)."""
    token = _CONTEXT.set((store, project))
    try:
        yield store
    finally:
        _CONTEXT.reset(token)


def default_store() -> tuple[Store, str]:
    """The store pipelines use when none is given: an active ``using_store`` block, or the
    process's default tracking client."""
    active = _CONTEXT.get()
    if active is not None:
        return active
    from keel.tracking import get_client

    client = get_client()
    return client.store, client.project_name


def dataset_version(name: str, version: int | None = None) -> DatasetVersion:
    """A dataset version to pass into steps (the newest when ``version`` is None).

    Resolved when the pipeline is built, so its content hash is part of the cache keys of
    the steps that read it, and the step runs are linked to it in the lineage graph.
    """
    store, project = default_store()
    project_id = existing_project(store.projects, project).id  # the dataset is in it
    if version is None:
        version = _recorded_version(name)
    return store.datasets.get_version(project_id, name, version)


def _recorded_version(name: str) -> int | None:
    """While a model is reproduced: the version of ``name`` it was made from."""
    try:
        refs = json.loads(os.environ.get(_REPRODUCE_DATASETS) or "[]")
    except ValueError:
        return None
    for ref in refs:
        base, _, number = str(ref).rpartition("@")
        if base == name and number.isdigit():
            return int(number)
    return None


@dataclass
class PipelineResult:
    """What one run did: its id, each step's outcome, and the pipeline's return value."""

    run_id: str
    pipeline: str
    status: str
    graph: Graph
    steps: dict[str, StepRunInfo]
    execution: Execution = field(repr=False)

    def value(self) -> Any:
        """The pipeline function's return value, with step outputs loaded."""
        return substitute(self.graph.outputs, self.execution.value_of)

    def output(self, node: str) -> Any:
        """The output of one node (a step name, or ``name[i]`` for a fan-out piece)."""
        if node not in self.steps:
            raise InvalidArgumentError(
                f"pipeline {self.pipeline!r} has no step {node!r}; steps: {', '.join(self.steps)}"
            )
        return self.execution.value_of(Ref(node))

    def _with(self, status: StepStatus) -> list[str]:
        return [n for n, s in self.steps.items() if s.status is status]

    @property
    def cached(self) -> list[str]:
        return self._with(StepStatus.CACHED)

    @property
    def ran(self) -> list[str]:
        return self._with(StepStatus.RAN)

    @property
    def failed(self) -> list[str]:
        return self._with(StepStatus.FAILED)

    @property
    def all_cached(self) -> bool:
        return bool(self.steps) and len(self.cached) == len(self.steps)


class Pipeline(WrapsFunction):
    """A function wrapped as a pipeline: typed parameters and a DAG of step calls."""

    def __init__(self, fn: Callable[..., Any], *, name: str | None = None) -> None:
        self.fn = fn
        self.name: str = name or str(getattr(fn, "__name__", "pipeline"))
        self.params: dict[str, ParamSpec] = param_specs(fn, f"pipeline {self.name!r}")
        functools.update_wrapper(self, fn)

    def __repr__(self) -> str:
        return f"<keel pipeline {self.name!r}>"

    def _positional(self, args: tuple[Any, ...]) -> dict[str, Any]:
        names = list(self.params)
        if len(args) > len(names):
            raise _positional_error(self.name, len(names), len(args))
        return dict(zip(names, args, strict=False))

    def resolve(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        file_values: Mapping[str, Any] | None = None,
        strings: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        return resolve_params(
            f"pipeline {self.name!r}", self.params, params, file_values=file_values, strings=strings
        )

    def build(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        file_values: Mapping[str, Any] | None = None,
        strings: Mapping[str, str] | None = None,
    ) -> Graph:
        """The DAG for these parameters (checked: no cycle, no dangling reference)."""
        values = self.resolve(params, file_values=file_values, strings=strings)
        graph = Graph(self.name, params=values)
        with tracing(graph) as tracer:
            tracer.stack.append(self.name)
            returned = self.fn(**values)
            graph.outputs = tracer.to_refs(returned, self.name)
        graph.order()
        return graph

    def run(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        file_values: Mapping[str, Any] | None = None,
        strings: Mapping[str, str] | None = None,
        store: Store | None = None,
        project: str | None = None,
        runner: str | Runner | None = None,
        workers: int | None = None,
        address: str | None = None,
        cache: bool = True,
        keep_going: bool = False,
        experiment: str | None = None,
        target: str = "",
        tags: Mapping[str, str] | None = None,
        on_step: StepHook | None = None,
    ) -> PipelineResult:
        """Build and execute; raises StepFailedError (with ``.result``) when a step fails.

        ``cache=False`` (``--no-cache``, and always under ``keel models reproduce``) runs
        every step but still stores the fresh outputs;
        ``keep_going`` lets independent branches finish after a failure.
        """
        if store is None:
            store, default_project = default_store()
            project = project or default_project
        with using_store(store, project or "default"):
            graph = self.build(params, file_values=file_values, strings=strings)
        if os.environ.get(_REPRODUCE_OF):
            cache = False  # a reproduction recomputes: a cache hit would prove nothing
        runner_obj = make_runner(runner, workers=workers, address=address)
        return run_graph(
            graph,
            store=store,
            project=project or "default",
            runner=runner_obj,
            options=ExecutionOptions(
                use_cache=cache, keep_going=keep_going, tags=dict(tags or {}), on_step=on_step
            ),
            experiment=experiment or self.name,
            target=target or f"{self.fn.__module__}:{self.fn.__qualname__}",
        )

    def __call__(self, *args: Any, **params: Any) -> Any:
        params = {**self._positional(args), **params}
        tracer = current_tracer()
        if tracer is not None:  # a pipeline used inside another: inline its steps
            if self.name in tracer.stack:
                chain = " -> ".join([*tracer.stack, self.name])
                raise InvalidArgumentError(
                    f"pipeline {self.name!r} calls itself ({chain}); pipelines must form a DAG"
                )
            values = resolve_params(
                f"pipeline {self.name!r}",
                self.params,
                params,
                unchecked=lambda v: has_refs(tracer.to_refs(v, self.name)),
            )
            tracer.stack.append(self.name)
            try:
                return self.fn(**values)
            finally:
                tracer.stack.pop()
        return self.run(params).value()


def _positional_error(name: str, n: int, got: int) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"pipeline {name!r} takes {n} parameter(s) but {got} were given positionally"
    )


def run_graph(
    graph: Graph,
    *,
    store: Store,
    project: str,
    runner: Runner,
    options: ExecutionOptions,
    experiment: str,
    target: str,
) -> PipelineResult:
    """Execute a built graph with ``runner``, recording it in ``store``."""
    from keel.pipelines._filehash import StatCacheHasher
    from keel.pipelines._fingerprint import using_hasher
    from keel.tracking import TrackingClient

    try:
        runner.prepare(graph)  # refuses impossible resource requests before any record
        client = TrackingClient(store, project)
        recorder = Recorder(
            client,
            pipeline=graph.name,
            experiment=experiment,
            target=target,
            runner=runner.describe(),
            params=graph.params,
            n_steps=len(graph),
            tags=options.tags,
            capture_env=options.capture_env,
        )
        execution = Execution(
            graph,
            store=store,
            project_id=client.project.id,
            runner=runner,
            recorder=recorder,
            options=options,
        )
        hasher = StatCacheHasher.for_cache_dir(store.settings.cache_dir)
        try:
            with using_hasher(hasher):
                execution.run()
        except BaseException as exc:
            _abort(execution, recorder, exc)
            raise
        finally:
            hasher.close()
    finally:
        runner.close()
    return _finish(graph, execution, recorder)


def _abort(execution: Execution, recorder: Recorder, exc: BaseException) -> None:
    """Close the records of a run interrupted by Ctrl-C or an internal error."""
    for st in execution.states.values():
        if st.status in (StepStatus.RUNNING, StepStatus.PENDING):
            st.status = StepStatus.SKIPPED
            st.reason = f"interrupted ({type(exc).__name__})"
            recorder.step(st.info())
    status = RunStatus.KILLED if isinstance(exc, KeyboardInterrupt) else RunStatus.FAILED
    recorder.finish(status=status, counts=_counts(execution), error=f"{type(exc).__name__}: {exc}")


def _counts(execution: Execution) -> dict[StepStatus, int]:
    counts: dict[StepStatus, int] = {}
    for st in execution.states.values():
        counts[st.status] = counts.get(st.status, 0) + 1
    return counts


def _finish(graph: Graph, execution: Execution, recorder: Recorder) -> PipelineResult:
    failed = [st for st in execution.states.values() if st.status is StepStatus.FAILED]
    error = _failure_message(execution, failed[0]) if failed else ""
    status = RunStatus.FAILED if failed else RunStatus.FINISHED
    recorder.finish(status=status, counts=_counts(execution), error=error)
    result = PipelineResult(
        run_id=recorder.run_id,
        pipeline=graph.name,
        status=status.value,
        graph=graph,
        steps={n: st.info() for n, st in execution.states.items()},
        execution=execution,
    )
    if failed:
        exc = StepFailedError(error)
        exc.result = result  # type: ignore[attr-defined]
        exc.node = failed[0].node.id  # type: ignore[attr-defined]
        raise exc from failed[0].exception
    return result


def _failure_message(execution: Execution, st: NodeState) -> str:
    more = ""
    others = [s.node.id for s in execution.states.values() if s.status is StepStatus.FAILED]
    if len(others) > 1:
        more = f" ({len(others) - 1} other step(s) failed too: {', '.join(others[1:4])})"
    return (
        f"step {st.node.id!r} failed after {st.attempts} attempt(s): {st.error_type}: "
        f"{st.error}. It was called with {execution.describe_arguments(st.node)}.{more} "
        "Completed steps are cached: fix the cause and run the pipeline again to resume there."
    )


@overload
def pipeline(fn: Callable[..., Any], /) -> Pipeline: ...


@overload
def pipeline(*, name: str | None = None) -> Callable[[Callable[..., Any]], Pipeline]: ...


def pipeline(
    fn: Callable[..., Any] | None = None, /, *, name: str | None = None
) -> Pipeline | Callable[[Callable[..., Any]], Pipeline]:
    """Make ``fn`` a pipeline; its typed parameters become the pipeline's parameters."""

    def wrap(f: Callable[..., Any]) -> Pipeline:
        return Pipeline(f, name=name)

    return wrap(fn) if fn is not None else wrap
