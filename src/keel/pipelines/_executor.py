"""The driver: walks the DAG, answers from the step cache where it can, sends the rest to
the runner, retries failures with backoff and records everything.

A node is *cached* when an entry exists under its key and every blob of that entry is
still in the blob store; an entry whose blob has gone is dropped and the step recomputed.
A step that fails after its retries stops new steps from starting (unless ``keep_going``);
what completed stays cached, so running the pipeline again resumes at the failed step.
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import json
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

from keel.pipelines._fingerprint import fingerprint
from keel.pipelines._graph import Graph, Node, Ref, has_refs, iter_refs, substitute
from keel.pipelines._materialize import dataset_versions_in, load_value, sub_manifest
from keel.pipelines._record import Recorder, param_text
from keel.pipelines._runner_api import Runner
from keel.pipelines._task import Task, TaskResult, Upstream
from keel.store import RunStatus, Store
from keel.store._db import now_ms
from keel.store.entities import DatasetVersion
from keel.store.pipelines import StepRunInfo, StepStatus
from keel.tracking._steprun import StepRecords, StepRunSpec


@dataclass
class NodeState:
    node: Node
    status: StepStatus = StepStatus.PENDING
    key: str | None = None
    parts: dict[str, Any] | None = None
    reason: str = ""
    manifest: dict[str, Any] | None = None
    version: str | None = None
    value: Any = None
    has_value: bool = False
    attempts: int = 0
    started_ms: int = 0
    ended_ms: int | None = None
    duration_s: float = 0.0
    error: str = ""
    error_type: str = ""
    traceback: str = ""
    exception: BaseException | None = None
    run_id: str | None = None
    cached_from: str | None = None
    logged: StepRecords = field(default_factory=StepRecords)
    #: Dataset versions this step read, directly or through the steps upstream of it.
    datasets: dict[int, None] = field(default_factory=dict)

    def info(self) -> StepRunInfo:
        return StepRunInfo(
            node=self.node.id,
            step=self.node.name,
            status=self.status,
            cache_key=self.key or "",
            run_id=self.run_id,
            attempts=self.attempts,
            started_at=self.started_ms,
            ended_at=self.ended_ms,
            duration_ms=int(self.duration_s * 1000),
            reason=self.reason,
            error=(self.error + ("\n\n" + self.traceback if self.traceback else "")).strip(),
        )


@dataclass(frozen=True)
class _Version:
    """An upstream output's data version, standing in for it inside a fingerprint."""

    version: str


@fingerprint.register(_Version)
def _fp_version(value: _Version) -> str:
    return value.version


StepHook = Callable[..., None]


@dataclass
class ExecutionOptions:
    """``on_step`` is called with keyword arguments (``node``, ``step``, ``status``,
    ``duration_s``, ``reason``, ``error`` and more in future: accept ``**future_kwargs``)
    each time a step is cached, ran, failed or was skipped."""

    use_cache: bool = True
    keep_going: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    on_step: StepHook | None = None
    #: Record the git commit, uncommitted diff, entry point and argv on the pipeline run.
    capture_env: bool = True


@dataclass(eq=False)
class Execution:
    """One walk of one graph; ``states`` holds the outcome of every node afterwards."""

    graph: Graph
    _: KW_ONLY
    store: Store
    project_id: int
    runner: Runner
    recorder: Recorder
    options: ExecutionOptions

    def __post_init__(self) -> None:
        self.states = {n: NodeState(node) for n, node in self.graph.nodes.items()}
        self._fingerprints: dict[int, str | None] = {}
        self._retry: list[tuple[float, int, str]] = []
        self._in_flight: set[str] = set()
        self._stopped = False
        self._calls: dict[str, int] = {}
        for node in self.graph.nodes.values():
            self._calls[node.name] = self._calls.get(node.name, 0) + 1

    # -- the loop ----------------------------------------------------------------------------
    def run(self) -> None:
        order = self.graph.order()
        down = self.graph.downstream()
        waiting = {n: len(set(self.graph.nodes[n].deps)) for n in order}
        ready: deque[str] = deque(n for n in order if waiting[n] == 0)
        while True:
            self._due_retries(ready)
            while ready and not self._stopped and len(self._in_flight) < self.runner.capacity:
                name = ready.popleft()
                if self._plan(self.states[name]):
                    self._release(name, down, waiting, ready)
                else:
                    self._submit(self.states[name])
            if not self._in_flight:
                if self._stopped or not self._retry:
                    break
                time.sleep(max(0.0, self._retry[0][0] - time.monotonic()))
                continue
            timeout = max(0.0, self._retry[0][0] - time.monotonic()) if self._retry else None
            for result in self.runner.wait(timeout):
                self._in_flight.discard(result.node)
                if self._complete(self.states[result.node], result):
                    self._release(result.node, down, waiting, ready)
        self._skip_rest()
        self.recorder.flush()

    def _release(
        self, name: str, down: Mapping[str, list[str]], waiting: dict[str, int], ready: deque[str]
    ) -> None:
        for nxt in dict.fromkeys(down.get(name, ())):
            waiting[nxt] -= 1
            if waiting[nxt] == 0:
                ready.append(nxt)

    def _due_retries(self, ready: deque[str]) -> None:
        now = time.monotonic()
        while self._retry and self._retry[0][0] <= now and not self._stopped:
            _due, _seq, name = heapq.heappop(self._retry)
            ready.appendleft(name)

    def _skip_rest(self) -> None:
        failed = [s.node.id for s in self.states.values() if s.status is StepStatus.FAILED]
        for st in self.states.values():
            if st.status in (StepStatus.PENDING, StepStatus.RUNNING):
                st.status = StepStatus.SKIPPED
                st.reason = f"not run: step {failed[0]!r} failed" if failed else "not run"
                self.recorder.step(st.info())
                self._notify(st)

    # -- cache -------------------------------------------------------------------------------
    def _plan(self, st: NodeState) -> bool:
        """Compute the node's key and answer it from the cache when possible."""
        st.started_ms = now_ms()
        st.key, st.parts, why_not = self._key(st.node)
        if st.key is None:
            st.reason = why_not
            return False
        if not self.options.use_cache:
            st.reason = "cache disabled for this run (--no-cache)"
            return False
        entry = self.store.step_cache.get(self.project_id, st.key)
        if entry is None:
            st.reason = self._miss_reason(st)
            return False
        missing = [sha for sha in entry.blob_shas if not self.store.blobs.exists(sha)]
        if missing:
            self.store.step_cache.delete(self.project_id, [st.key])
            st.reason = f"cached output blob {missing[0][:12]} is missing; recomputing"
            return False
        st.status = StepStatus.CACHED
        st.manifest = entry.manifest
        st.version = str(entry.manifest.get("version"))
        st.cached_from = entry.run_id
        st.ended_ms = now_ms()
        st.reason = "inputs, code and packages unchanged"
        self._record_cached(st)
        return True

    def _key(self, node: Node) -> tuple[str | None, dict[str, Any] | None, str]:
        step = node.step
        if not step.cache:
            return None, None, "step has cache=False"
        inputs: dict[str, str] = {}
        for name, value in node.arguments.items():
            fp = self._fingerprint(value)
            if fp is None:
                return None, None, f"input {name!r} has no fingerprint, so it cannot be cached"
            inputs[name] = fp[:16]
        parts = {
            "step": step.name,
            "code": step.code_version[:16],
            "inputs": inputs,
            "packages": step.packages,
        }
        blob = json.dumps(parts, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest(), parts, ""

    def _fingerprint(self, value: Any) -> str | None:
        if has_refs(value):
            versions = substitute(value, self._ref_version)
            if any(v is None for v in _flatten(versions)):
                return None
            return fingerprint(versions)
        memo = id(value)
        if memo not in self._fingerprints:
            try:
                self._fingerprints[memo] = fingerprint(value)
            except Exception:
                self._fingerprints[memo] = None
        return self._fingerprints[memo]

    def _ref_version(self, ref: Ref) -> _Version | None:
        st = self.states[ref.node]
        if st.version is None:
            return None
        if not ref.path:
            return _Version(st.version)
        if st.manifest is not None:
            sub = sub_manifest(st.manifest, ref.path)
            if sub is not None:
                return _Version(str(sub["version"]))
        suffix = json.dumps(list(ref.path)).encode()
        return _Version(hashlib.sha256(st.version.encode() + suffix).hexdigest())

    def _miss_reason(self, st: NodeState) -> str:
        if self._calls.get(st.node.name, 0) > 1:
            return "no cached output for these inputs"
        previous = self.store.step_cache.latest_for_step(self.project_id, st.node.name)
        if previous is None or st.parts is None:
            return "first run of this step"
        return explain_difference(previous.parts, st.parts)

    # -- running -----------------------------------------------------------------------------
    def _submit(self, st: NodeState) -> None:
        node = st.node
        st.status = StepStatus.RUNNING
        st.attempts += 1
        params = {k: v for k, v in node.arguments.items() if not has_refs(v)}
        before_write = None
        if st.run_id is None and self.runner.in_memory:  # written once, when it ends
            st.run_id = self.recorder.pending_child(node.id, tags=self._tags(st), params=params)
            self._link_inputs(st)
            self.recorder.start_row(st.info())
            before_write = functools.partial(self.recorder.ensure_started, st.run_id)
        else:
            if st.run_id is None:
                st.run_id = self.recorder.child_run(
                    node.id, status=RunStatus.RUNNING, tags=self._tags(st), params=params
                )
                self._link_inputs(st)
            self.recorder.step(st.info(), now=True)
        cacheable = st.key is not None
        task = Task(
            node=node.id,
            step=node.step,
            arguments=node.arguments,
            upstream={dep: self._upstream(dep) for dep in node.deps},
            artifacts_uri=self.store.blobs.root_url,
            blobs=self.store.blobs if self.runner.in_memory else None,
            store_output=cacheable or not self.runner.in_memory,
            attempt=st.attempts,
            timeout=node.step.timeout,
            tracking=StepRunSpec(
                st.run_id, node.id, self.store.settings, self.recorder.client.project.name
            ),
            client=self.recorder.client if self.runner.in_memory else None,
            before_write=before_write,
        )
        self._in_flight.add(node.id)
        self.runner.submit(task)

    def _upstream(self, name: str) -> Upstream:
        st = self.states[name]
        if self.runner.in_memory:
            if not st.has_value and st.manifest is not None:
                st.value, st.has_value = load_value(st.manifest, self.store.blobs), True
            return Upstream(value=st.value, in_memory=True)
        return Upstream(manifest=st.manifest)

    def _complete(self, st: NodeState, result: TaskResult) -> bool:
        st.duration_s += result.duration_s
        if result.logged is not None:
            st.logged.merge(result.logged)
        if result.ok:
            self._succeeded(st, result)
            return True
        st.error, st.error_type = result.error, result.error_type
        st.traceback, st.exception = result.traceback, result.exception
        if result.unstorable or st.attempts > st.node.step.retries:
            st.status = StepStatus.FAILED
            st.ended_ms = now_ms()
            self._finish_child(st, RunStatus.FAILED)
            if not self.options.keep_going:
                self._stopped = True
            return False
        delay = st.node.step.retry_backoff * (2 ** (st.attempts - 1))
        st.status = StepStatus.PENDING
        st.reason = f"attempt {st.attempts} failed ({result.error_type}); retrying in {delay:g}s"
        self.recorder.step(st.info(), now=True)
        heapq.heappush(self._retry, (time.monotonic() + delay, st.attempts, st.node.id))
        return False

    def _succeeded(self, st: NodeState, result: TaskResult) -> None:
        st.status = StepStatus.RAN
        st.ended_ms = now_ms()
        st.error = st.error_type = st.traceback = ""
        st.exception = None
        st.manifest = result.manifest
        if result.has_value:
            st.value, st.has_value = result.value, True
        if st.manifest is not None:
            st.version = str(st.manifest["version"])
        elif st.has_value:
            try:
                st.version = fingerprint(st.value)
            except Exception:
                st.version = None
        if st.manifest is not None:
            self.recorder.link(st.run_id, dataset_versions_in(st.manifest), "output")
        self._finish_child(st, RunStatus.FINISHED)  # writes the run the cache entry names
        if st.key is not None and st.manifest is not None and st.parts is not None:
            self.store.step_cache.put(
                self.project_id,
                key=st.key,
                step=st.node.name,
                parts=st.parts,
                manifest=st.manifest,
                size_bytes=int(st.manifest.get("size", 0)),
                run_id=st.run_id,
            )

    # -- recording ---------------------------------------------------------------------------
    def _tags(self, st: NodeState) -> dict[str, str]:
        node = st.node
        tags = {
            "keel.step": node.name,
            "keel.step.node": node.id,
            "keel.step.status": st.status.value,
            "keel.step.code_version": node.step.code_version[:16],
            "keel.step.reason": st.reason[:1000],
            "keel.pipeline.run": self.recorder.run_id,
            **self.recorder.step_tags,
        }
        if st.key:
            tags["keel.step.cache_key"] = st.key
        if st.parts:  # what the key is made of, readable: step, code, inputs, packages
            tags["keel.step.cache_parts"] = json.dumps(st.parts, sort_keys=True)
        if node.deps:
            tags["keel.step.inputs"] = ",".join(node.deps)
            upstream = [self.states[d].run_id for d in node.deps if self.states[d].run_id]
            tags["keel.step.upstream_runs"] = ",".join(str(u) for u in upstream)
        if not node.step.resources.is_empty:
            tags["keel.step.resources"] = node.step.resources.describe()
        if st.cached_from:
            tags["keel.step.cached_from"] = st.cached_from
        return tags

    def _record_cached(self, st: NodeState) -> None:
        st.run_id = self.recorder.finished_child(st.node.id, tags=self._tags(st))
        if st.cached_from:
            self.recorder.reused(st.node.id, st.cached_from)
        self._link_inputs(st)
        if st.manifest is not None:
            self.recorder.link(st.run_id, dataset_versions_in(st.manifest), "output")
        self.recorder.step(st.info())
        self._notify(st)

    def _notify(self, st: NodeState) -> None:
        if self.options.on_step is not None:
            self.options.on_step(
                node=st.node.id,
                step=st.node.name,
                status=st.status,
                duration_s=st.duration_s,
                attempts=st.attempts,
                reason=st.reason,
                error=f"{st.error_type}: {st.error}" if st.error else "",
            )

    def _finish_child(self, st: NodeState, status: RunStatus) -> None:
        tags = {
            "keel.step.status": st.status.value,
            "keel.step.attempts": str(st.attempts),
            "keel.step.duration_ms": str(int(st.duration_s * 1000)),
        }
        if st.error:
            tags["keel.error"] = f"{st.error_type}: {st.error}"[:5000]
        if st.run_id is not None:
            self.recorder.end_child(st.run_id, status, tags, st.node.id, st.logged)
        self.recorder.step(st.info(), now=True)
        self._notify(st)

    def _link_inputs(self, st: NodeState) -> None:
        ids: list[int] = []
        for value in st.node.arguments.values():
            ids.extend(v.id for v in _flatten(value) if isinstance(v, DatasetVersion))
        for ref in iter_refs(st.node.arguments):
            up = self.states[ref.node]
            ids.extend(up.datasets)  # what the upstream step read made this input too
            if up.manifest is not None:
                ids.extend(dataset_versions_in(up.manifest))
        st.datasets = dict.fromkeys(ids)
        if ids:
            self.recorder.link(st.run_id, st.datasets, "input")

    # -- results -----------------------------------------------------------------------------
    def value_of(self, ref: Ref) -> Any:
        st = self.states[ref.node]
        if not st.has_value:
            if st.manifest is None:
                raise KeyError(ref.node)
            st.value, st.has_value = load_value(st.manifest, self.store.blobs), True
        value = st.value
        for key in ref.path:
            value = value[key]
        return value

    def describe_arguments(self, node: Node) -> str:
        parts = []
        for name, value in node.arguments.items():
            if has_refs(value):
                shown = substitute(value, lambda r: f"<output of {r!r}>")
                parts.append(f"{name}={shown}")
            else:
                parts.append(f"{name}={param_text(value)[:120]}")
        return ", ".join(parts) or "no arguments"


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple, set, frozenset)):
        return [x for v in value for x in _flatten(v)]
    if isinstance(value, dict):
        return [x for v in value.values() for x in _flatten(v)]
    return [value]


def explain_difference(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """Why a step's key changed, in words: code, which inputs, which packages."""
    reasons = []
    if old.get("code") != new.get("code"):
        reasons.append("its code changed")
    old_in, new_in = old.get("inputs", {}), new.get("inputs", {})
    changed = sorted(k for k in new_in if k in old_in and old_in[k] != new_in[k])
    added = sorted(set(new_in) - set(old_in))
    removed = sorted(set(old_in) - set(new_in))
    if changed:
        reasons.append("input " + ", ".join(repr(k) for k in changed) + " changed")
    if added:
        reasons.append("new input " + ", ".join(repr(k) for k in added))
    if removed:
        reasons.append("input " + ", ".join(repr(k) for k in removed) + " no longer passed")
    old_pk, new_pk = old.get("packages", {}), new.get("packages", {})
    bumped = [
        f"{p} {old_pk.get(p, '-')} -> {v}" for p, v in sorted(new_pk.items()) if old_pk.get(p) != v
    ]
    if bumped:
        reasons.append("package versions changed (" + ", ".join(bumped[:3]) + ")")
    return "; ".join(reasons) or "no entry for these exact inputs"
