"""Streaming prediction on Redis Streams consumer groups (RL_6).

Guarantees, and how:

- **At-least-once**: a message is acknowledged (``XACK``) only after its prediction (or its
  dead letter) is written to the sink. A worker that dies leaves its messages pending; on
  restart it first re-reads its own pending entries, and any worker claims entries other
  consumers left idle for ``claim_idle_ms`` (``XAUTOCLAIM``).
- **Idempotent output**: each sink write runs in one Lua script that sets a marker key
  per source message id (``SET NX EX``) and appends only if the marker was new, so a
  message scored twice after a crash still lands in the sink once.
- **Dead letters**: a record that does not match the model's signature (or makes the model
  fail on its own) goes to ``<source stream>:dead`` (``?dead=`` to rename it; it lives on
  the sink's Redis, written in the same script) with the reason and its original fields;
  the worker goes on.
- **Backpressure**: the worker pulls a bounded batch, writes and acknowledges it before
  it reads the next; with ``max_sink_len`` it also waits while the sink is that long.
- **Clean shutdown**: ``stop`` (SIGTERM/SIGINT in the CLI) ends the loop between batches;
  the batch in hand is written and acknowledged first.

Message format: one row per message, either a ``data`` field holding a JSON object or one
field per column (values parsed as JSON when they parse, else kept as text). Sink entries
carry ``id`` (the source message id), ``prediction`` (JSON), ``model``, ``version`` and
``ts`` (ms). The Lua script keys are built at run time, so use a standalone Redis (or a
cluster hash tag in the stream names).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from keel.exceptions import InvalidArgumentError, KeelError
from keel.serving._predict import predict_rows
from keel.serving._schema import Rows, schema_less_rows
from keel.serving._source import LoadedModel

if TYPE_CHECKING:
    import numpy as np

    from keel.store.predlog import PredictionLog

log = logging.getLogger("keel.serving.stream")

_WRITE_SCRIPT = """
local prefix, ttl, maxlen = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local i, written = 4, 0
while i <= #ARGV do
  local kind, id, n = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local fields = {}
  for j = 1, n * 2 do fields[j] = ARGV[i + 2 + j] end
  i = i + 3 + n * 2
  if redis.call('SET', prefix .. id, '1', 'NX', 'EX', ttl) then
    local key = KEYS[1]
    if kind == 'dead' then key = KEYS[2] end
    if maxlen > 0 then
      redis.call('XADD', key, 'MAXLEN', '~', maxlen, '*', unpack(fields))
    else
      redis.call('XADD', key, '*', unpack(fields))
    end
    written = written + 1
  end
end
return written
"""


@dataclass(frozen=True)
class StreamEndpoint:
    """``redis://host:port/db?stream=events&group=keel&consumer=w1`` parsed."""

    url: str  # the connection URL without the query
    stream: str
    group: str = "keel"
    consumer: str = "worker-1"
    dead: str = ""

    @property
    def dead_stream(self) -> str:
        return self.dead or f"{self.stream}:dead"


def parse_stream_url(text: str, *, default_consumer: str = "worker-1") -> StreamEndpoint:
    parts = urlsplit(text)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise InvalidArgumentError(
            f"stream URL {text!r} must start with redis:// (for example "
            "redis://127.0.0.1:6379/0?stream=events); Kafka is not supported yet"
        )
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    stream = query.get("stream")
    if not stream:
        raise InvalidArgumentError(f"stream URL {text!r} needs ?stream=NAME")
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return StreamEndpoint(
        base,
        stream,
        group=query.get("group", "keel"),
        consumer=query.get("consumer", default_consumer),
        dead=query.get("dead", ""),
    )


@dataclass
class StreamStats:
    read: int = 0
    written: int = 0
    duplicates: int = 0
    dead: int = 0
    acked: int = 0
    batches: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    def p(self, q: float) -> float:
        if not self.latencies_ms:
            return 0.0
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(q * len(data)))]

    def summary(self) -> dict[str, float]:
        """The final counts ``keel stream`` prints, with the p99 latency."""
        return {
            "read": self.read,
            "written": self.written,
            "duplicates": self.duplicates,
            "dead": self.dead,
            "acked": self.acked,
            "p99_latency_ms": self.p(0.99),
        }


class StreamWorker:
    """Reads a source stream through a consumer group, predicts, writes the sink, acks."""

    def __init__(
        self,
        model: LoadedModel,
        source: StreamEndpoint,
        sink: StreamEndpoint,
        *,
        batch_size: int = 256,
        block_ms: int = 500,
        claim_idle_ms: int = 30_000,
        dedupe_ttl_s: int = 7 * 86_400,
        max_sink_len: int | None = None,
        prediction_log: PredictionLog | None = None,
        deployment: str = "stream",
    ) -> None:
        import redis

        self.model = model
        self.source_ep, self.sink_ep = source, sink
        self.src = redis.Redis.from_url(source.url, decode_responses=True)
        self.dst = redis.Redis.from_url(sink.url, decode_responses=True)
        self.batch_size = batch_size
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self.ttl = dedupe_ttl_s
        self.max_sink_len = max_sink_len
        self.plog = prediction_log
        self.deployment = deployment
        self.stats = StreamStats()
        self._script = self.dst.register_script(_WRITE_SCRIPT)
        self._marker = f"keel:stream:{sink.stream}:done:{source.stream}:"
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def ensure_group(self) -> None:
        import redis

        try:
            self.src.xgroup_create(
                self.source_ep.stream, self.source_ep.group, id="0", mkstream=True
            )
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def run(
        self,
        *,
        max_messages: int | None = None,
        idle_exit_s: float | None = None,
        on_batch: Callable[[StreamStats], None] | None = None,
    ) -> StreamStats:
        """Process until :meth:`stop`, ``max_messages`` or ``idle_exit_s`` without input."""
        self.ensure_group()
        own_pending = True  # first, what this consumer read before a crash
        last_claim = 0.0
        idle_since = time.monotonic()
        while not self._stop.is_set():
            if max_messages is not None and self.stats.read >= max_messages:
                break
            entries: list[tuple[str, dict[str, str]]]
            if own_pending:
                entries = self._read("0")
                own_pending = bool(entries)
            elif time.monotonic() - last_claim > self.claim_idle_ms / 1000:
                entries = self._claim()
                last_claim = time.monotonic()
            else:
                entries = self._read(">")
            if not entries:
                if idle_exit_s is not None and time.monotonic() - idle_since > idle_exit_s:
                    break
                continue
            idle_since = time.monotonic()
            self._wait_for_sink()
            self._handle(entries)
            if on_batch is not None:
                on_batch(self.stats)
        return self.stats

    def _read(self, start: str) -> list[tuple[str, dict[str, str]]]:
        block = None if start == "0" else self.block_ms
        reply = self.src.xreadgroup(
            self.source_ep.group,
            self.source_ep.consumer,
            {self.source_ep.stream: start},
            count=self.batch_size,
            block=block,
        )
        if not reply:
            return []
        entries: Any = reply[0][1]  # type: ignore[index]
        return [(mid, fields) for mid, fields in entries if fields is not None]

    def _claim(self) -> list[tuple[str, dict[str, str]]]:
        reply = self.src.xautoclaim(
            self.source_ep.stream,
            self.source_ep.group,
            self.source_ep.consumer,
            min_idle_time=self.claim_idle_ms,
            start_id="0-0",
            count=self.batch_size,
        )
        return [(mid, fields) for mid, fields in reply[1] if fields is not None]

    def _wait_for_sink(self) -> None:
        while self.max_sink_len and not self._stop.is_set():
            if self.dst.xlen(self.sink_ep.stream) < self.max_sink_len:
                return
            time.sleep(0.05)

    def _handle(self, entries: list[tuple[str, dict[str, str]]]) -> None:
        self.stats.read += len(entries)
        self.stats.batches += 1
        good: list[tuple[str, Rows]] = []
        dead: list[tuple[str, dict[str, str], str]] = []
        for mid, fields in entries:
            try:
                good.append((mid, self._rows(fields)))
            except (KeelError, ValueError) as exc:
                dead.append((mid, fields, f"invalid input: {exc}"))
        results = self._predict(good, dead, dict(entries))
        now_ms = int(time.time() * 1000)
        args: list[Any] = [self._marker, self.ttl, self.max_sink_len or 0]
        for mid, value in results:
            row = {
                "id": mid,
                "prediction": json.dumps(value, default=_plain),
                "model": self.model.name,
                "version": self.model.version,
                "ts": str(now_ms),
            }
            args += ["ok", mid, len(row), *[x for kv in row.items() for x in kv]]
        for mid, fields, reason in dead:
            row = {"id": mid, "reason": reason[:2000], "data": json.dumps(fields)}
            args += ["dead", mid, len(row), *[x for kv in row.items() for x in kv]]
        written = int(
            self._script(keys=[self.sink_ep.stream, self.source_ep.dead_stream], args=args)
        )
        self.stats.written += written
        self.stats.duplicates += len(results) + len(dead) - written
        self.stats.dead += len(dead)
        self.src.xack(self.source_ep.stream, self.source_ep.group, *[m for m, _ in entries])
        self.stats.acked += len(entries)
        done_ms = time.time() * 1000
        self.stats.latencies_ms.extend(done_ms - _id_ms(mid) for mid, _ in results)
        if len(self.stats.latencies_ms) > 200_000:
            del self.stats.latencies_ms[:100_000]

    def _rows(self, fields: dict[str, str]) -> Rows:
        if "data" in fields and len(fields) == 1:
            record = json.loads(fields["data"])
            if not isinstance(record, dict):
                raise InvalidArgumentError("the data field must hold a JSON object (one row)")
        else:
            record = {k: _parse(v) for k, v in fields.items()}
        schema = self.model.schema
        if schema is None:
            return schema_less_rows({k: [v] for k, v in record.items()})
        return schema.rows_from_records([record])

    def _predict(
        self,
        good: list[tuple[str, Rows]],
        dead: list[tuple[str, dict[str, str], str]],
        fields: dict[str, dict[str, str]],
    ) -> list[tuple[str, Any]]:
        if not good:
            return []
        try:
            outs = self._run_model(Rows.concat([r for _, r in good]))
            return [(mid, _row_value(outs, i)) for i, (mid, _) in enumerate(good)]
        except Exception:
            log.debug("batch of %d failed; retrying one by one", len(good))
        results = []
        for mid, rows in good:  # one bad record must not sink the batch
            try:
                results.append((mid, _row_value(self._run_model(rows), 0)))
            except Exception as exc:
                dead.append((mid, fields[mid], f"model error: {type(exc).__name__}: {exc}"))
        return results

    def _run_model(self, rows: Rows) -> dict[str, np.ndarray]:
        start = time.perf_counter()
        outs = predict_rows(self.model, rows)
        if self.plog is not None:
            from keel.store.predlog import LogRecord

            schema = self.model.schema
            self.plog.log(
                LogRecord(
                    self.deployment,
                    "stream",
                    self.model.name,
                    self.model.version,
                    f"stream-{int(time.time() * 1000)}",
                    int(time.time() * 1000),
                    (time.perf_counter() - start) * 1000,
                    False,
                    rows,
                    schema.names if schema else None,
                    outs,
                )
            )
        return outs


def _parse(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def _row_value(outs: dict[str, np.ndarray], i: int) -> Any:
    if len(outs) == 1:
        return next(iter(outs.values()))[i]
    return {k: v[i] for k, v in outs.items()}


def _plain(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    return str(obj)


def _id_ms(message_id: str) -> float:
    return float(message_id.split("-", 1)[0])


__all__ = ["StreamEndpoint", "StreamStats", "StreamWorker", "parse_stream_url"]
