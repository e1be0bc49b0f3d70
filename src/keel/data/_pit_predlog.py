"""Production traffic as feature tables: a deployment's prediction log and its feedback.

:class:`PredictionFeatures` names a deployment and the input columns that identify an entity
(``keys``, e.g. ``["customer_id"]``). :func:`training_set` turns it into two feature tables:

- **predictions**: the inputs and outputs the model saw and said, as of the prediction's
  time (``ts``);
- **feedback** (``feedback=True``): the label that came back for a prediction, as of the
  time the label **arrived**, not the time of the prediction. A label learnt on Friday for a
  prediction made on Monday is not known on Wednesday, and a training row of Wednesday must
  not see it: that is the leak a naive join on the prediction's time makes.

Both tables carry a lineage record (deployment, window, files, rows and a content hash when
the training set is saved), so a saved training set names the production data it was built
from. Shadow predictions are left out unless ``shadow=True``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from keel.data._inputs import Loaded
from keel.exceptions import InvalidArgumentError

if TYPE_CHECKING:
    import pyarrow as pa

    from keel.config import Settings
    from keel.data._client import DatasetClient
    from keel.store.eventlog import Window

_DAY = re.compile(r"date=(\d{4}-\d{2}-\d{2})")


@dataclass(frozen=True, slots=True)
class PredictionFeatures:
    """A deployment's prediction log (and feedback) as a feature source for training sets.

    ``keys``: input columns that identify the entity; ``columns``: the inputs/outputs to keep
    (default: all but the keys); ``feedback``: add ``label`` and ``value`` as of their arrival;
    ``since``/``until``: the window of prediction times (default: the whole log); ``prefix``
    goes before each feature name (default ``<deployment>_``); ``ttl`` as in
    :class:`FeatureTable`.
    """

    deployment: str
    keys: Sequence[str]
    columns: Sequence[str] | None = None
    feedback: bool = True
    since: datetime | None = None
    until: datetime | None = None
    shadow: bool = False
    prefix: str | None = None
    ttl: timedelta | str | None = None

    @property
    def column_prefix(self) -> str:
        return f"{self.deployment}_" if self.prefix is None else self.prefix


def prediction_tables(
    spec: PredictionFeatures, datasets: DatasetClient | None, *, hashed: bool
) -> list[Loaded]:
    """The predictions (and feedback) of ``spec``, each timed by its ``ts`` column."""
    if datasets is None:
        raise InvalidArgumentError(
            "reading the prediction log needs datasets=DatasetClient(...) (it names the store)"
        )
    if not spec.keys:
        raise InvalidArgumentError(
            f"PredictionFeatures({spec.deployment!r}) needs keys=[...]: the input columns "
            "that identify an entity"
        )
    settings = datasets.store.settings
    preds, window = _predictions(settings, spec)
    cols = _columns(preds, spec)
    table = preds.select([*spec.keys, "ts", *cols])
    out = [_loaded(table, spec, "predictions", window, hashed)]
    if spec.feedback:
        labels = _feedback(settings, spec, preds)
        out.append(_loaded(labels, spec, "feedback", window, hashed))
    return out


def _predictions(settings: Settings, spec: PredictionFeatures) -> tuple[pa.Table, list[str]]:
    from keel.store.eventlog import EventLog
    from keel.store.predlog import META_COLUMNS, PREDICTIONS, read_window

    log = EventLog(settings.artifacts_uri, PREDICTIONS)
    window = _window(log.files(spec.deployment), spec)
    table = read_window(log, spec.deployment, window, shadow=None if spec.shadow else False)
    if table.num_rows == 0:
        raise InvalidArgumentError(
            f"the prediction log of deployment {spec.deployment!r} has no rows in that window"
        )
    missing = [k for k in spec.keys if k not in table.column_names]
    if missing:
        inputs = [c for c in table.column_names if c not in META_COLUMNS]
        raise InvalidArgumentError(
            f"key column(s) {missing} are not in the prediction log of {spec.deployment!r}; "
            f"its inputs and outputs are {inputs}"
        )
    return table, [_iso(window.start_ms), _iso(window.end_ms)]


def _window(files: list[str], spec: PredictionFeatures) -> Window:
    """``since``..``until``; an open end stops at the first or last day the log holds."""
    from keel.store.eventlog import DAY_MS, Window

    days = sorted({m.group(1) for f in files if (m := _DAY.search(f))})
    if not days:
        raise InvalidArgumentError(
            f"deployment {spec.deployment!r} has no prediction log (nothing was served or "
            "logged under that name)"
        )
    first = int(datetime.fromisoformat(days[0]).replace(tzinfo=UTC).timestamp() * 1000)
    last = int(datetime.fromisoformat(days[-1]).replace(tzinfo=UTC).timestamp() * 1000)
    start = _ms(spec.since) if spec.since is not None else first
    end = _ms(spec.until) if spec.until is not None else last + DAY_MS
    return Window(start, end)


def _columns(preds: pa.Table, spec: PredictionFeatures) -> list[str]:
    from keel.store.predlog import META_COLUMNS

    names = [c for c in preds.column_names if c not in META_COLUMNS and c not in spec.keys]
    if spec.columns is None:
        return names
    unknown = [c for c in spec.columns if c not in names]
    if unknown:
        raise InvalidArgumentError(
            f"the prediction log of {spec.deployment!r} has no column(s) {unknown}; it has {names}"
        )
    return list(spec.columns)


def _feedback(settings: Settings, spec: PredictionFeatures, preds: pa.Table) -> pa.Table:
    """Each label with its prediction's keys, timed at its arrival (``ts``). Labels of one
    entity that arrived at the same instant (a batch import) keep the newest prediction's."""
    import duckdb

    from keel.store.eventlog import arrow_table
    from keel.store.feedlog import read_feedback

    wanted = ("request_id", "row", "label", "value", "ts")
    labels = read_feedback(settings, spec.deployment, columns=wanted)
    ids = preds.select(["request_id", "row", "ts", *spec.keys]).rename_columns(
        ["request_id", "row", "predicted_at", *spec.keys]
    )
    keys = ", ".join('"' + k.replace('"', '""') + '"' for k in spec.keys)
    con = duckdb.connect()
    try:
        con.register("labels", labels)
        con.register("ids", ids)
        joined = arrow_table(
            con.sql(
                f"SELECT {keys}, labels.ts, label, value FROM labels JOIN ids USING "
                f"(request_id, row) QUALIFY row_number() OVER (PARTITION BY {keys}, labels.ts "
                "ORDER BY predicted_at DESC, request_id DESC, row DESC) = 1"
            )
        )
    finally:
        con.close()
    if joined.num_rows == 0:
        raise InvalidArgumentError(
            f"deployment {spec.deployment!r} has no feedback for the predictions in that "
            "window; pass feedback=False to use the predictions alone"
        )
    return joined


def _loaded(
    table: pa.Table, spec: PredictionFeatures, part: str, window: list[str], hashed: bool
) -> Loaded:
    from keel.data._tables import table_hash

    lineage: dict[str, Any] = {
        "type": "prediction_log",
        "deployment": spec.deployment,
        "part": part,
        "window": window,
        "rows": table.num_rows,
    }
    if hashed:
        lineage["content_hash"] = table_hash(table)
    return Loaded(table, lineage, f"{part} of deployment {spec.deployment!r}")


def _ms(when: datetime) -> int:
    if when.tzinfo is None:
        raise InvalidArgumentError(
            f"{when.isoformat()} has no time zone; the prediction log is in UTC "
            "(use datetime(..., tzinfo=timezone.utc))"
        )
    return int(when.timestamp() * 1000)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()
