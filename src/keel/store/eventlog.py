"""Event data: append-only Parquet files partitioned by deployment and date.

::

    <artifacts_uri>/<kind>/deployment=<name>/date=<YYYY-MM-DD>/part-*.parquet

Prediction logs (:mod:`keel.store.predlog`), feedback labels and monitoring results are
kinds of event log. Files are written under a temporary name and renamed, so a reader
never sees half a file; they are read in place with DuckDB. :class:`Window` is the
half-open time range the readers take.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from keel.exceptions import InvalidArgumentError

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

BATCH_ROWS = 65_536
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open time range ``[start_ms, end_ms)`` in milliseconds since the epoch (UTC)."""

    start_ms: int
    end_ms: int

    def __post_init__(self) -> None:
        if self.end_ms <= self.start_ms:
            raise InvalidArgumentError(
                f"window ends ({_iso(self.end_ms)}) before it starts ({_iso(self.start_ms)})"
            )

    @classmethod
    def ending(cls, length: str | int, end_ms: int | None = None) -> Window:
        """The window of ``length`` (``"1d"``, ``"6h"`` or ms) ending at ``end_ms`` (now)."""
        span = parse_duration(length) if isinstance(length, str) else int(length)
        end = end_ms if end_ms is not None else int(time.time() * 1000)
        return cls(end - span, end)

    def split(self, every: str | int) -> list[Window]:
        """Consecutive sub-windows of ``every`` (the last one may be shorter)."""
        step = parse_duration(every) if isinstance(every, str) else int(every)
        starts = range(self.start_ms, self.end_ms, step)
        return [Window(s, min(s + step, self.end_ms)) for s in starts]

    def days(self) -> list[str]:
        first = self.start_ms // DAY_MS
        last = (self.end_ms - 1) // DAY_MS
        return [day_of(d * DAY_MS) for d in range(first, last + 1)]

    @property
    def label(self) -> str:
        return f"{_iso(self.start_ms)} .. {_iso(self.end_ms)}"


def parse_duration(text: str) -> int:
    """Milliseconds in ``"30m"``, ``"6h"``, ``"1d"``, ``"2w"``."""
    m = _DURATION.match(text)
    if m is None or float(m.group(1)) <= 0:
        raise InvalidArgumentError(
            f"window {text!r} is not a duration; write it like 30m, 6h, 1d or 1w"
        )
    return int(float(m.group(1)) * _UNIT_MS[m.group(2)])


def parse_time(text: str) -> int:
    """Milliseconds from an ISO date or time (UTC unless it names a zone), or ``now``."""
    if text.strip().lower() == "now":
        return int(time.time() * 1000)
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidArgumentError(
            f"time {text!r} is not ISO 8601; write it like 2026-11-26 or 2026-11-26T14:00"
        ) from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return int(value.timestamp() * 1000)


def day_of(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d")


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EventLog:
    """Parquet files partitioned by deployment and date under one folder of the artifact root."""

    def __init__(self, artifacts_uri: str, kind: str) -> None:
        import fsspec

        self.root = artifacts_uri.rstrip("/") + "/" + kind
        self.fs, self.base = fsspec.core.url_to_fs(self.root)
        self.protocol = _protocol(self.fs)

    def folder(self, deployment: str, day: str) -> str:
        _check_partition(deployment)
        return f"{self.base}/deployment={deployment}/date={day}"

    def files(self, deployment: str, window: Window | None = None) -> list[str]:
        """The finished Parquet files of ``deployment`` on the days ``window`` touches."""
        _check_partition(deployment)
        days = ["*"] if window is None else window.days()
        found: list[str] = []
        for day in days:
            found.extend(self.fs.glob(f"{self.folder(deployment, day)}/*.parquet"))
        names = sorted(str(f) for f in found if not str(f).rsplit("/", 1)[-1].startswith("."))
        return [self._url(f) for f in names]

    def deployments(self) -> list[str]:
        if not self.fs.exists(self.base):
            return []
        return sorted(
            p.rsplit("deployment=", 1)[-1]
            for p in self.fs.ls(self.base, detail=False)
            if "deployment=" in p
        )

    def write(self, deployment: str, table: pa.Table, *, day: str) -> str:
        """Write one file atomically (temporary name, then rename); returns its path."""
        import pyarrow.parquet as pq

        folder = self.folder(deployment, day)
        self.fs.makedirs(folder, exist_ok=True)
        name = f"part-{int(time.time() * 1000)}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp = f"{folder}/.{name}.tmp"
        with self.fs.open(tmp, "wb") as fh:
            pq.write_table(table, fh, compression="zstd")
        final = f"{folder}/{name}.parquet"
        self.fs.mv(tmp, final)
        return final

    def _url(self, path: str) -> str:
        return path if self.protocol in ("file", "local") else f"{self.protocol}://{path}"

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection that can read this log (remote filesystems registered)."""
        import duckdb

        con = duckdb.connect()
        if self.protocol not in ("file", "local"):
            con.register_filesystem(self.fs)
        return con


def _protocol(fs: Any) -> str:
    proto = fs.protocol
    return str(proto[0] if isinstance(proto, (tuple, list)) else proto)


def _check_partition(name: str) -> None:
    if not name or "/" in name or "\\" in name or name in (".", "..") or "\x00" in name:
        raise InvalidArgumentError(
            f"deployment name {name!r} cannot name a log folder; use letters, digits, '-', '_'"
        )


def arrow_reader(result: Any, batch_rows: int = BATCH_ROWS) -> pa.RecordBatchReader:
    """A DuckDB result as an Arrow batch stream (DuckDB 2 renamed the method)."""
    if hasattr(result, "to_arrow_reader"):
        return result.to_arrow_reader(batch_rows)
    return result.fetch_record_batch(batch_rows)


def arrow_table(result: Any) -> pa.Table:
    """A DuckDB result as one Arrow table, on DuckDB 1.x and 2.x."""
    if hasattr(result, "to_arrow_table"):
        return result.to_arrow_table()
    return result.arrow()


def sql_list(paths: Sequence[str]) -> str:
    """A DuckDB list literal of file paths (quotes doubled, never interpolated raw)."""
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


__all__ = [
    "DAY_MS",
    "EventLog",
    "Window",
    "arrow_reader",
    "arrow_table",
    "day_of",
    "parse_duration",
    "parse_time",
    "sql_list",
]
