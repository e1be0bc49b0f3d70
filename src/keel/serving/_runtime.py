"""The live state of a deployment: endpoints, their loaded versions, traffic and hot swaps.

A :class:`Slot` is one loaded model version with its own gate (concurrency and queue
limits), micro-batcher, thread pool and metrics. An :class:`Endpoint` routes each request
to one answering slot (weighted, sticky by a route key when given) and copies it to its
shadow slots. :class:`DeploymentRuntime` builds all of this from a spec, and while it runs,
re-resolves every alias (and bare-name "latest") reference every ``poll_s`` seconds: a moved
alias gets its new version loaded and warmed beside the old one, then the routing table is
swapped in one assignment, and the old slot drains its queue before it stops. No request
is dropped and none waits for a load.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import random
import time
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from keel.exceptions import KeelError, ModelInputError, ResourceUnavailableError
from keel.models._uri import ModelRef
from keel.serving._batcher import BatchSettings, Gate, MicroBatcher
from keel.serving._codec import HttpError, output_metadata
from keel.serving._metrics import BoundMetrics, ServingMetrics, rss_bytes
from keel.serving._predict import PROBABILITIES, predict_rows, request_schema
from keel.serving._schema import Rows
from keel.serving._source import LoadedModel, ModelSource
from keel.serving._spec import DeploymentSpec, EndpointSpec, VersionSpec, check_resources
from keel.serving._transforms import Transforms

log = logging.getLogger("keel.serving")


class Slot:
    """One model version serving inside one endpoint."""

    def __init__(
        self,
        endpoint: EndpointSpec,
        version: VersionSpec,
        loaded: LoadedModel,
        transforms: Transforms,
        metrics: BoundMetrics,
        *,
        weight: float,
    ) -> None:
        res = endpoint.resources
        self.endpoint = endpoint.name
        self.ref: ModelRef = version.ref
        self.spec = version
        self.loaded = loaded
        self.weight = weight
        self.shadow = version.shadow
        self.transforms = transforms
        self.metrics = metrics
        self.timeout_s = res.timeout_ms / 1000
        self.request_schema = request_schema(loaded, transforms)
        self.outputs: list[dict[str, Any]] | None = None
        self.gate = Gate(loaded.key, res.concurrency, res.queue)
        self._pool = ThreadPoolExecutor(res.threads, thread_name_prefix=f"keel-{loaded.name}")
        b = endpoint.batching
        batching = BatchSettings(b.max_batch_size, b.max_wait_ms, b.adaptive)
        self.batcher = self._batcher(loaded.key, self._predict_batch, batching, res.threads)
        # requests that also ask for class probabilities are batched among themselves
        self.proba_batcher = self._batcher(
            f"{loaded.key}+{PROBABILITIES}", self._predict_batch_with_proba, batching, res.threads
        )
        self.identity: tuple[Any, ...] = (
            endpoint.name,
            loaded.name,
            loaded.version,
            version.model,
            version.shadow,
            _res_key(endpoint),
        )

    def _batcher(
        self, key: str, predict: Callable[[Rows], Any], batching: BatchSettings, threads: int
    ) -> MicroBatcher:
        return MicroBatcher(
            key,
            predict,
            settings=batching,
            executor=self._pool,
            threads=threads,
            on_batch=self.metrics.on_batch,
        )

    @property
    def name(self) -> str:
        return self.loaded.name

    @property
    def version(self) -> str:
        return self.loaded.version

    def _predict_batch(self, rows: Rows) -> dict[str, np.ndarray]:
        """Runs in the slot's thread pool: the one prediction path, on checked rows."""
        outs = predict_rows(self.loaded, rows, self.transforms, schema=self.request_schema)
        if self.outputs is None:
            self.outputs = output_metadata(outs)
        return outs

    def _predict_batch_with_proba(self, rows: Rows) -> dict[str, np.ndarray]:
        extra = frozenset({PROBABILITIES})
        return predict_rows(
            self.loaded, rows, self.transforms, schema=self.request_schema, extra=extra
        )

    def output_metadata(self) -> list[dict[str, Any]]:
        """Outputs as ``/infer`` names them: seen on warm-up or the first answer, else read
        from the signature (a bare array is answered as ``predictions``)."""
        if self.outputs is not None:
            return self.outputs + self._extra_outputs()
        declared: list[dict[str, Any]] = list(self.loaded.metadata.get("outputs", []))
        if not declared or all(str(o["name"]).startswith("prediction") for o in declared):
            dtype = declared[0]["datatype"] if len(declared) == 1 else "FP64"
            declared = [{"name": "predictions", "datatype": dtype, "shape": [-1]}]
        return declared + self._extra_outputs()

    def _extra_outputs(self) -> list[dict[str, Any]]:
        """Outputs answered only on request: class probabilities of a classifier."""
        if self.loaded.metadata.get("task") != "classification":
            return []
        return [{"name": PROBABILITIES, "datatype": "FP64", "shape": [-1, -1]}]

    def warm_up(self) -> None:
        """One predict on a row of zeros, so the first real request pays no lazy setup."""
        schema = self.request_schema
        if schema is None or not schema.numeric:
            return
        try:
            self._predict_batch(Rows(1, matrix=np.zeros((1, len(schema.columns)))))
        except Exception as exc:  # a model may reject zeros; that is not a load failure
            log.debug("warm-up of %s skipped: %s", self.loaded.key, exc)

    async def start(self) -> None:
        self.batcher.start()
        self.proba_batcher.start()
        self.metrics.watch(
            lambda: float(self.batcher.depth + self.proba_batcher.depth + self.gate.waiting),
            lambda: float(self.gate.in_flight),
        )

    async def stop(self) -> None:
        await self.batcher.close()
        await self.proba_batcher.close()
        self._pool.shutdown(wait=False)
        self.metrics.forget()

    async def predict(
        self, rows: Rows, extra: frozenset[str] = frozenset()
    ) -> dict[str, np.ndarray]:
        """Admit, batch, and return this request's slice of the batch outputs (with the
        class probabilities too when ``extra`` asks for them)."""
        await self.gate.enter()
        start = time.perf_counter()
        batcher = self.proba_batcher if PROBABILITIES in extra else self.batcher
        try:
            outs, a, b = await batcher.submit(rows, self.timeout_s)
        except HttpError:
            raise
        except ModelInputError as exc:
            raise HttpError(400, f"{self.loaded.key}: {exc}") from None
        except KeelError as exc:
            raise HttpError(400, f"{self.loaded.key}: {exc}") from None
        except (ValueError, TypeError) as exc:  # the model refused these values (NaN, range)
            raise HttpError(
                400, f"model {self.loaded.key} rejected the input: {str(exc)[:500]}"
            ) from None
        except Exception as exc:
            log.exception("model %s failed", self.loaded.key)
            raise HttpError(
                500, f"model {self.loaded.key} failed: {type(exc).__name__}: {exc}"
            ) from None
        finally:
            self.gate.leave(time.perf_counter() - start)
        if a == 0 and b == len(next(iter(outs.values()))):
            return outs
        return {k: v[a:b] for k, v in outs.items()}


@dataclass
class Endpoint:
    """Routes a request to one answering slot; the shadows get copies."""

    name: str
    live: list[Slot]
    shadows: list[Slot]
    route_key: str | None
    _cum: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        total = 0.0
        self._cum = []
        for s in self.live:
            total += s.weight
            self._cum.append(total)

    @property
    def slots(self) -> list[Slot]:
        return [*self.live, *self.shadows]

    def pick(self, key: str | None) -> Slot:
        if len(self.live) == 1:
            return self.live[0]
        point = (zlib.crc32(key.encode()) % 100_000) / 100_000 if key else random.random()
        i = bisect.bisect_right(self._cum, point * self._cum[-1])
        return self.live[min(i, len(self.live) - 1)]

    def find(self, version: str) -> Slot:
        """The slot a ``/versions/{v}`` path names: a number, an alias, or the reference."""
        for s in self.slots:
            if version in (s.version, s.ref.alias, s.spec.model):
                return s
        known = ", ".join(sorted({s.version for s in self.slots}))
        raise HttpError(
            404, f"endpoint {self.name!r} serves no version {version!r}; it serves {known}"
        )


class DeploymentRuntime:
    """Loads a spec's model versions, serves them, and follows alias moves and new specs."""

    def __init__(
        self,
        spec: DeploymentSpec,
        source: ModelSource,
        metrics: ServingMetrics,
        *,
        spec_updates: Callable[[], DeploymentSpec | None] | None = None,
    ) -> None:
        self.spec = spec
        self.source = source
        self.metrics = metrics
        self.endpoints: dict[str, Endpoint] = {}
        self.ready = False
        self._spec_updates = spec_updates
        self._watcher: asyncio.Task[None] | None = None
        self._swap_lock = asyncio.Lock()
        self.events: list[str] = []  # what changed while running, newest last

    @property
    def name(self) -> str:
        return self.spec.name

    async def start(self) -> None:
        self.endpoints = await self._build(self.spec, {})
        self.ready = True
        self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def stop(self) -> None:
        self.ready = False
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        await asyncio.gather(*(s.stop() for s in self._all_slots(self.endpoints)))

    @staticmethod
    def _all_slots(endpoints: dict[str, Endpoint]) -> list[Slot]:
        return [s for ep in endpoints.values() for s in ep.slots]

    async def _build(
        self, spec: DeploymentSpec, reuse: dict[tuple[Any, ...], Slot]
    ) -> dict[str, Endpoint]:
        """Endpoints for ``spec``, reusing slots whose identity is unchanged."""
        check_resources(spec)
        out: dict[str, Endpoint] = {}
        for ep in spec.endpoints:
            transforms = Transforms.resolve(ep.transforms.pre, ep.transforms.post)
            weights = {id(v): w for v, w in ep.weights()}
            live: list[Slot] = []
            shadows: list[Slot] = []
            for v in ep.versions:
                version = await asyncio.to_thread(self.source.resolve, v.ref)
                slot = reuse.pop(
                    (ep.name, v.ref.name, version, v.model, v.shadow, _res_key(ep)), None
                )
                if slot is None:
                    slot = await self._load(ep, v, version, transforms, weights.get(id(v), 0.0))
                else:
                    slot.weight = weights.get(id(v), 0.0)
                (shadows if v.shadow else live).append(slot)
            out[ep.name] = Endpoint(ep.name, live, shadows, ep.route_key)
        return out

    async def _load(
        self, ep: EndpointSpec, v: VersionSpec, version: str, transforms: Transforms, weight: float
    ) -> Slot:
        before = rss_bytes()
        loaded = await asyncio.to_thread(self.source.load, v.ref.name, version)
        used = max(0, rss_bytes() - before)
        limit = ep.resources.memory_bytes
        if limit is not None and used > limit:
            raise ResourceUnavailableError(
                f"model {loaded.key} took {used / 2**20:.0f} MiB when it loaded, over the "
                f"memory limit {ep.resources.memory} of endpoint {ep.name!r}; raise "
                "resources.memory or serve a smaller model"
            )
        bound = self.metrics.bind(ep.name, loaded.name, loaded.version)
        slot = Slot(ep, v, loaded, transforms, bound, weight=weight)
        await asyncio.to_thread(slot.warm_up)
        await slot.start()
        labels = (ep.name, loaded.name, loaded.version)
        self.metrics.model_memory.labels(*labels).set(used)
        if limit is not None:
            self.metrics.memory_limit.labels(*labels).set(limit)
        role = "shadow" if v.shadow else f"weight={weight:.3f}"
        self.metrics.version_info.labels(*labels, v.model, role).set(1)
        log.info("loaded %s for %s (%s, %s)", loaded.key, ep.name, v.model, role)
        return slot

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.spec.poll_s)
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep serving what is loaded; say why we could not move
                log.warning("deployment %s: refresh failed: %s", self.name, exc)
                self.events.append(f"refresh failed: {exc}")

    async def refresh(self) -> bool:
        """Pick up a new spec or moved aliases; True when the routing table changed."""
        async with self._swap_lock:
            new_spec = None
            if self._spec_updates is not None:
                new_spec = await asyncio.to_thread(self._spec_updates)
            if new_spec is None and not await self._aliases_moved():
                return False
            spec = new_spec or self.spec
            current = self._all_slots(self.endpoints)
            reuse = {s.identity: s for s in current}
            endpoints = await self._build(spec, dict(reuse))
            kept = {id(s) for s in self._all_slots(endpoints)}
            self.endpoints, self.spec = endpoints, spec  # the swap: one assignment
            retired = [s for s in current if id(s) not in kept]
            for s in retired:
                self.events.append(f"retired {s.loaded.key} from {s.endpoint}")
            await asyncio.gather(*(s.stop() for s in retired))
            return True

    async def _aliases_moved(self) -> bool:
        for s in self._all_slots(self.endpoints):
            if s.ref.follows:
                now = await asyncio.to_thread(self.source.resolve, s.ref)
                if now != s.version:
                    self.events.append(f"{s.spec.model} moved from {s.version} to {now}")
                    log.info("%s moved from version %s to %s", s.spec.model, s.version, now)
                    return True
        return False

    def versions(self) -> Iterable[Slot]:
        return self._all_slots(self.endpoints)


def _res_key(ep: EndpointSpec) -> tuple[Any, ...]:
    """Settings a slot is built with; a change in them means a new slot."""
    return (
        ep.resources.model_dump_json(),
        ep.batching.model_dump_json(),
        ep.transforms.model_dump_json(),
    )


__all__ = ["DeploymentRuntime", "Endpoint", "Slot"]
