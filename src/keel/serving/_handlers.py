"""Request handlers of the serving app: route, validate, predict, log, shadow.

Inference handlers take the path parameters, the few headers serving reads and the raw
body, and return ``(status, body, headers)``; :mod:`keel.serving._app` calls them without
any framework in between. Metadata, health and metrics handlers are ordinary Starlette
endpoints (they are not on the hot path).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from keel.serving import _binary as binary
from keel.serving._codec import (
    HttpError,
    Payload,
    dumps,
    encode_predictions,
    loads,
    parse_csv,
    parse_invocations,
    parse_records,
    parse_v2,
    v2_response,
)
from keel.serving._predict import EXTRA_OUTPUTS
from keel.serving._runtime import DeploymentRuntime, Endpoint, Slot
from keel.store.predlog import LogRecord, PredictionLog

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

Answer = tuple[int, bytes, dict[str, str]]
_MLFLOW_CODES = {
    400: "BAD_REQUEST",
    404: "RESOURCE_DOES_NOT_EXIST",
    413: "BAD_REQUEST",
    415: "BAD_REQUEST",
    429: "RESOURCE_EXHAUSTED",
    503: "TEMPORARILY_UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_REASONS = {
    400: "invalid_input",
    415: "unsupported_media_type",
    404: "not_found",
    413: "too_large",
    429: "overloaded",
    500: "model_error",
    503: "unavailable",
    504: "timeout",
}


def request_id_factory() -> Callable[[], str]:
    """Unique ids without a syscall per request: a random per-process prefix and a counter."""
    prefix = uuid.uuid4().hex[:16]
    counter = itertools.count()
    return lambda: f"{prefix}{next(counter):016x}"


class ServingApp:
    """Request handlers over one :class:`DeploymentRuntime`."""

    def __init__(
        self,
        runtime: DeploymentRuntime,
        *,
        prediction_log: PredictionLog | None,
        log_sample: float = 1.0,
    ) -> None:
        self.runtime = runtime
        self.plog = prediction_log
        self.sample = log_sample
        self._background: set[asyncio.Task[None]] = set()
        self._request_id = request_id_factory()

    async def drain(self) -> None:
        """Wait for shadow copies still running (at shutdown)."""
        pending = list(self._background)
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    def refused(self, exc: HttpError, endpoint: str | None = None) -> None:
        """Count a request no model version counted (refused before or after predicting)."""
        if not exc.counted:
            known = endpoint if endpoint in self.runtime.endpoints else ""  # bounded labels
            self.runtime.metrics.refused(exc.status, _REASONS.get(exc.status, "error"), known)
            exc.counted = True

    def _error(self, exc: HttpError, mlflow: bool = False, endpoint: str | None = None) -> Answer:
        self.refused(exc, endpoint)
        body: dict[str, Any] = {"error": exc.message}
        if mlflow:
            code = _MLFLOW_CODES.get(exc.status, "INTERNAL_ERROR")
            body = {"error_code": code, "message": exc.message}
        return exc.status, dumps(body), exc.headers

    def _endpoint(self, name: str) -> Endpoint:
        ep = self.runtime.endpoints.get(name)
        if ep is None:
            if not self.runtime.ready:
                raise HttpError(503, "the server is still loading its models; retry shortly")
            known = ", ".join(sorted(self.runtime.endpoints)) or "none"
            raise HttpError(404, f"no model {name!r} is served here; served: {known}")
        return ep

    async def _infer(
        self, ep: Endpoint, version: str | None, payload: Payload, headers: dict[str, str]
    ) -> tuple[Slot, dict[str, Any], str]:
        """Route, validate, predict, then log and shadow in the background."""
        start = time.perf_counter()
        if version is not None:
            slot = ep.find(version)
        else:
            key = headers.get("x-keel-route-key")
            if key is None and ep.route_key is not None:
                value = payload.first_value(ep.route_key)
                key = None if value is None else str(value)
            slot = ep.pick(key)
        rid = payload.request_id or headers.get("x-request-id") or self._request_id()
        try:
            rows = payload.rows(slot.request_schema)
            outs = await slot.predict(rows, EXTRA_OUTPUTS.intersection(payload.outputs))
        except HttpError as exc:
            slot.metrics.failed(exc.status, _REASONS.get(exc.status, "error"))
            exc.counted = True
            raise
        elapsed = time.perf_counter() - start
        slot.metrics.ok.inc()
        slot.metrics.latency.observe(elapsed)
        self._log(ep, slot, rid, rows, outs, elapsed, shadow=False)
        if ep.shadows and version is None:
            loop = asyncio.get_running_loop()
            for shadow in ep.shadows:
                task = loop.create_task(self._shadow(ep, shadow, payload, rid))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
        return slot, outs, rid

    def _log(
        self,
        ep: Endpoint,
        slot: Slot,
        rid: str,
        rows: Any,
        outs: dict[str, Any],
        elapsed: float,
        *,
        shadow: bool,
    ) -> None:
        if self.plog is None or (self.sample < 1.0 and random.random() >= self.sample):
            return
        schema = slot.request_schema
        self.plog.log(
            LogRecord(
                self.runtime.name,
                ep.name,
                slot.name,
                slot.version,
                rid,
                int(time.time() * 1000),
                elapsed * 1000,
                shadow,
                rows,
                schema.names if schema is not None else None,
                outs,
            )
        )

    async def _shadow(self, ep: Endpoint, slot: Slot, payload: Payload, rid: str) -> None:
        """A copy of a request to a shadow version: logged, counted, never returned."""
        start = time.perf_counter()
        labels = slot.metrics.labels
        try:
            rows = payload.rows(slot.request_schema)
            outs = await slot.predict(rows)
        except HttpError as exc:
            outcome = "shed" if exc.status in (429, 503) else "failed"
            self.runtime.metrics.shadow.labels(*labels, outcome).inc()
            return
        except Exception:  # a shadow never hurts the answer; it is only counted
            self.runtime.metrics.shadow.labels(*labels, "failed").inc()
            return
        self.runtime.metrics.shadow.labels(*labels, "ok").inc()
        self._log(ep, slot, rid, rows, outs, time.perf_counter() - start, shadow=True)

    @staticmethod
    def _headers(slot: Slot, rid: str) -> dict[str, str]:
        return {"x-request-id": rid, "x-keel-model-version": slot.loaded.key}

    # -- inference -----------------------------------------------------------------------

    async def v2_infer(
        self, params: dict[str, Any], headers: dict[str, str], body: bytes
    ) -> Answer:
        try:
            ep = self._endpoint(params["name"])
            split = headers.get(binary.HEADER)
            obj = binary.read_request(body, split) if split is not None else loads(body)
            payload = parse_v2(obj)
            slot, outs, rid = await self._infer(ep, params.get("version"), payload, headers)
            head = v2_response(slot.name, slot.version, payload.request_id, outs, payload.outputs)
        except HttpError as exc:
            return self._error(exc, endpoint=params["name"])
        wanted = binary.binary_outputs(obj, [o["name"] for o in head["outputs"]])
        if wanted:
            out, extra = binary.encode_outputs(head, outs, wanted)
            return 200, out, {**self._headers(slot, rid), **extra}
        return 200, dumps(head), self._headers(slot, rid)

    async def invocations(self, headers: dict[str, str], body: bytes) -> Answer:
        try:
            ep = self._invocation_endpoint(headers)
            ctype = headers.get("content-type", "application/json")
            if ctype.split(";")[0].strip().lower() == "text/csv":
                payload = parse_csv(body)
            else:
                payload = parse_invocations(loads(body))
            slot, outs, rid = await self._infer(ep, None, payload, headers)
        except HttpError as exc:
            return self._error(exc, mlflow=True, endpoint=headers.get("x-keel-model"))
        return 200, encode_predictions(outs), self._headers(slot, rid)

    def _invocation_endpoint(self, headers: dict[str, str]) -> Endpoint:
        name = headers.get("x-keel-model")
        if name is None:
            if len(self.runtime.endpoints) != 1:
                known = ", ".join(sorted(self.runtime.endpoints))
                raise HttpError(
                    400,
                    f"this server serves several models ({known}); name one with "
                    "/invocations?model=NAME or the X-Keel-Model header",
                )
            name = next(iter(self.runtime.endpoints))
        return self._endpoint(name)

    async def predict_records(
        self, params: dict[str, Any], headers: dict[str, str], body: bytes
    ) -> Answer:
        try:
            ep = self._endpoint(params["name"])
            payload = parse_records(loads(body))
            slot, outs, rid = await self._infer(ep, params.get("version"), payload, headers)
        except HttpError as exc:
            return self._error(exc, endpoint=params["name"])
        out = encode_predictions(outs, model=slot.name, version=slot.version, request_id=rid)
        return 200, out, self._headers(slot, rid)

    # -- metadata, health, metrics (Starlette endpoints) ---------------------------------

    def _json(
        self, body: bytes, status: int = 200, headers: dict[str, str] | None = None
    ) -> Response:
        from starlette.responses import Response

        return Response(body, status, headers, media_type="application/json")

    async def server_metadata(self, request: Request) -> Response:
        from keel import __version__

        body = {"name": "keel", "version": __version__, "extensions": ["binary_tensor_data"]}
        return self._json(dumps(body))

    async def live(self, request: Request) -> Response:
        return self._json(b'{"live":true}')

    async def ready(self, request: Request) -> Response:
        ok = self.runtime.ready
        return self._json(dumps({"ready": ok}), 200 if ok else 503)

    async def model_metadata(self, request: Request) -> Response:
        params = request.path_params
        try:
            ep = self._endpoint(params["name"])
            version = params.get("version")
            slot = ep.find(version) if version else ep.live[0]
        except HttpError as exc:
            return self._json(dumps({"error": exc.message}), exc.status)
        schema = slot.request_schema
        inputs = (
            [{"name": c.name, "datatype": c.v2_datatype, "shape": [-1]} for c in schema.columns]
            if schema is not None
            else []
        )
        body = {
            "name": ep.name,
            "versions": [s.version for s in ep.slots],
            "platform": f"keel-{slot.loaded.runtime}",
            "inputs": inputs,
            "outputs": slot.output_metadata(),
            "parameters": {
                "model": slot.name,
                "version": slot.version,
                "traffic": {s.version: round(s.weight, 6) for s in ep.live},
                "shadows": [s.version for s in ep.shadows],
            },
        }
        return self._json(dumps(body))

    async def model_ready(self, request: Request) -> Response:
        params = request.path_params
        try:
            ep = self._endpoint(params["name"])
            if params.get("version"):
                ep.find(params["version"])
        except HttpError as exc:
            return self._json(dumps({"error": exc.message}), exc.status)
        return self._json(dumps({"name": ep.name, "ready": True}))

    async def models(self, request: Request) -> Response:
        body = [
            {
                "endpoint": ep.name,
                "model": s.name,
                "version": s.version,
                "ref": s.spec.model,
                "weight": round(s.weight, 6),
                "shadow": s.shadow,
                "runtime": s.loaded.runtime,
            }
            for ep in self.runtime.endpoints.values()
            for s in ep.slots
        ]
        return self._json(dumps({"deployment": self.runtime.name, "models": body}))

    async def metrics(self, request: Request) -> Response:
        from starlette.responses import Response

        data, ctype = self.runtime.metrics.exposition()
        return Response(data, 200, media_type=ctype)

    async def ping(self, request: Request) -> Response:
        return self._json(b"{}", 200 if self.runtime.ready else 503)


__all__ = ["Answer", "ServingApp", "request_id_factory"]
