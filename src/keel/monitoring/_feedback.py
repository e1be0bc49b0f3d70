"""Ground-truth labels that arrive after the prediction, joined to it by request id.

Stored as event data beside the prediction log::

    <artifacts_uri>/feedback/deployment=<name>/date=<YYYY-MM-DD>/part-*.parquet

with ``request_id``, ``row`` (the row within the request, 0 for single-row requests),
``label`` (canonical text, see :mod:`._labels`), ``value`` (the label as a number when it
is one), ``ts`` (when it arrived) and ``source``. Feedback for a request id the log does
not know is refused and listed; a second label for the same row is skipped (or replaces
the first with ``on_duplicate="replace"``; the newest label wins when reading).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.config import Settings
from keel.exceptions import ConflictError, InvalidArgumentError
from keel.monitoring._labels import canonical_array, numeric
from keel.store.eventlog import EventLog, arrow_table, day_of, sql_list
from keel.store.feedlog import FEEDBACK
from keel.store.feedlog import read_feedback as read_feedback  # monitoring.read_feedback
from keel.store.predlog import PREDICTIONS

if TYPE_CHECKING:
    import pyarrow as pa

DUPLICATE_POLICIES = ("skip", "replace", "error")
MAX_LISTED = 20


@dataclass(frozen=True)
class FeedbackResult:
    """What happened to a batch of labels; ids are listed up to 20 each."""

    received: int
    stored: int
    unknown: int = 0
    repeated_in_batch: int = 0
    already_labelled: int = 0
    replaced: int = 0
    unknown_ids: list[str] = field(default_factory=list)
    already_labelled_ids: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def record_feedback(
    settings: Settings,
    deployment: str,
    labels: Any,
    *,
    id_column: str = "request_id",
    label_column: str = "label",
    row_column: str = "row",
    on_duplicate: str = "skip",
    check_known: bool = True,
    source: str = "api",
) -> FeedbackResult:
    """Store ground-truth labels for earlier predictions of ``deployment``.

    ``labels`` is a DataFrame, Arrow table, dict of columns or a list of
    ``{"request_id": ..., "label": ...}`` records. This is the function behind
    ``keel feedback`` and the server's feedback endpoint.
    """
    if on_duplicate not in DUPLICATE_POLICIES:
        raise InvalidArgumentError(
            f"on_duplicate={on_duplicate!r}; use one of {', '.join(DUPLICATE_POLICIES)}"
        )
    table = _normalise(labels, id_column, label_column, row_column)
    received = table.num_rows
    table, repeated = _last_per_key(table)
    unknown_ids: list[str] = []
    if check_known and table.num_rows:
        table, unknown_ids = _drop_unknown(settings, deployment, table)
    table, already = _split_labelled(settings, deployment, table, on_duplicate)
    files = _store(settings, deployment, table, source)
    return FeedbackResult(
        received=received,
        stored=table.num_rows,
        unknown=len(unknown_ids),
        repeated_in_batch=repeated,
        already_labelled=len(already),
        replaced=len(already) if on_duplicate == "replace" else 0,
        unknown_ids=unknown_ids[:MAX_LISTED],
        already_labelled_ids=already[:MAX_LISTED],
        files=files,
    )


def import_feedback(
    settings: Settings, deployment: str, path: str | Path, **options: Any
) -> FeedbackResult:
    """Import labels from a Parquet or CSV file (same options as :func:`record_feedback`)."""
    import pyarrow as pa

    file = Path(path)
    if not file.is_file():
        raise InvalidArgumentError(f"feedback file {str(path)!r} does not exist")
    try:
        if file.suffix.lower() in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            table = pq.read_table(file)
        elif file.suffix.lower() in (".csv", ".tsv"):
            import pyarrow.csv as pacsv

            delimiter = "\t" if file.suffix.lower() == ".tsv" else ","
            table = pacsv.read_csv(file, parse_options=pacsv.ParseOptions(delimiter=delimiter))
        else:
            raise InvalidArgumentError(
                f"feedback file {file.name!r} is not .parquet, .csv or .tsv; convert it first"
            )
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidArgumentError(f"cannot read feedback file {str(path)!r}: {exc}") from exc
    options.setdefault("source", f"import:{file.name}")
    return record_feedback(settings, deployment, table, **options)


def _normalise(labels: Any, id_column: str, label_column: str, row_column: str) -> pa.Table:
    import pyarrow as pa

    table = _as_table(labels)
    for needed in (id_column, label_column):
        if needed not in table.column_names:
            raise InvalidArgumentError(
                f"feedback has no {needed!r} column (it has {table.column_names}); "
                f"name the columns {id_column!r} and {label_column!r}"
            )
    ids = table.column(id_column).cast(pa.string())
    if ids.null_count or any(not v for v in ids.to_pylist()):
        raise InvalidArgumentError("every feedback row needs a non-empty request_id")
    text = canonical_array(table.column(label_column))
    if any(t is None for t in text):
        raise InvalidArgumentError(
            f"feedback has empty labels in {label_column!r}; drop those rows or give a label"
        )
    rows = (
        table.column(row_column).cast(pa.int32())
        if row_column in table.column_names
        else pa.array([0] * table.num_rows, pa.int32())
    )
    return pa.table(
        {
            "request_id": ids,
            "row": rows,
            "label": pa.array(text, pa.string()),
            "value": pa.array([numeric(t) for t in text], pa.float64()),
        }
    )


def _as_table(labels: Any) -> pa.Table:
    import pyarrow as pa

    from keel.monitoring._columns import _is_arrow, _is_pandas

    try:
        if _is_arrow(labels):
            return labels if isinstance(labels, pa.Table) else pa.Table.from_batches([labels])
        if _is_pandas(labels):
            return pa.Table.from_pandas(labels, preserve_index=False)
        if isinstance(labels, Mapping):
            return pa.table({str(k): pa.array(list(v)) for k, v in labels.items()})
        if isinstance(labels, Sequence) and not isinstance(labels, (str, bytes)):
            return pa.Table.from_pylist([dict(r) for r in labels])
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"cannot read the feedback: {exc}") from exc
    raise InvalidArgumentError(
        f"feedback must be a DataFrame, Arrow table, dict of columns or list of records, "
        f"not {type(labels).__name__}"
    )


def _last_per_key(table: pa.Table) -> tuple[pa.Table, int]:
    """Keep the last label given for each (request_id, row) in the batch."""
    import pyarrow as pa

    keys = list(
        zip(table.column("request_id").to_pylist(), table.column("row").to_pylist(), strict=True)
    )
    last = {k: i for i, k in enumerate(keys)}
    if len(last) == len(keys):
        return table, 0
    keep = sorted(last.values())
    return table.take(pa.array(keep)), len(keys) - len(keep)


def _drop_unknown(
    settings: Settings, deployment: str, table: pa.Table
) -> tuple[pa.Table, list[str]]:
    log = EventLog(settings.artifacts_uri, PREDICTIONS)
    files = log.files(deployment)
    if not files:
        return table.slice(0, 0), sorted(set(table.column("request_id").to_pylist()))
    con = log.connect()
    try:
        con.register("fb", table)
        known = arrow_table(
            con.sql(
                "SELECT DISTINCT request_id FROM read_parquet("
                f"{sql_list(files)}, union_by_name = true, hive_partitioning = false) "
                "WHERE request_id IN (SELECT request_id FROM fb)"
            )
        )
    finally:
        con.close()
    known_ids = set(known.column("request_id").to_pylist())
    return _filter_ids(table, known_ids, keep=True)


def _split_labelled(
    settings: Settings, deployment: str, table: pa.Table, on_duplicate: str
) -> tuple[pa.Table, list[str]]:
    existing = read_feedback(settings, deployment, columns=("request_id", "row"))
    if existing.num_rows == 0 or table.num_rows == 0:
        return table, []
    seen = set(
        zip(
            existing.column("request_id").to_pylist(),
            existing.column("row").to_pylist(),
            strict=True,
        )
    )
    keys = list(
        zip(table.column("request_id").to_pylist(), table.column("row").to_pylist(), strict=True)
    )
    already = [k[0] for k in keys if k in seen]
    if not already or on_duplicate == "replace":
        return table, already
    if on_duplicate == "error":
        raise ConflictError(
            f"{len(already)} request(s) already have a label, e.g. {already[:5]}; pass "
            "on_duplicate='replace' (--replace) to overwrite or 'skip' to ignore them"
        )
    import pyarrow as pa

    mask = pa.array([k not in seen for k in keys])
    return table.filter(mask), already


def _filter_ids(table: pa.Table, ids: set[str], *, keep: bool) -> tuple[pa.Table, list[str]]:
    import pyarrow as pa

    values = table.column("request_id").to_pylist()
    mask = [(v in ids) == keep for v in values]
    dropped = sorted({v for v, m in zip(values, mask, strict=True) if not m})
    return table.filter(pa.array(mask)), dropped


def _store(settings: Settings, deployment: str, table: pa.Table, source: str) -> list[str]:
    import pyarrow as pa

    if table.num_rows == 0:
        return []
    now = int(time.time() * 1000)
    table = table.append_column(
        "ts", pa.array([now] * table.num_rows, pa.timestamp("ms", tz="UTC"))
    )
    table = table.append_column("source", pa.array([source] * table.num_rows, pa.string()))
    log = EventLog(settings.artifacts_uri, FEEDBACK)
    return [log.write(deployment, table, day=day_of(now))]
