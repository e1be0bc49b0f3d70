"""The feedback log's reader: the labels that arrived after each prediction, newest first.

Stored as event data beside the prediction log (written by :mod:`keel.monitoring`)::

    <artifacts_uri>/feedback/deployment=<name>/date=<YYYY-MM-DD>/part-*.parquet

with ``request_id``, ``row``, ``label`` (canonical text), ``value`` (the label as a number
when it is one), ``ts`` (when it arrived) and ``source``. It lives in the store, below
monitoring and data, so that both read it the same way (monitors score predictions with it;
training sets use it as a feature source).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from keel.config import Settings
from keel.store.eventlog import EventLog, arrow_table, sql_list

if TYPE_CHECKING:
    import pyarrow as pa

FEEDBACK = "feedback"


def read_feedback(
    settings: Settings, deployment: str, *, columns: Sequence[str] | None = None
) -> pa.Table:
    """Every label of ``deployment``, the newest one per (request_id, row)."""
    import pyarrow as pa

    log = EventLog(settings.artifacts_uri, FEEDBACK)
    files = log.files(deployment)
    wanted = list(columns or ("request_id", "row", "label", "value", "ts", "source"))
    if not files:
        empty = {
            "request_id": pa.string(),
            "row": pa.int32(),
            "label": pa.string(),
            "value": pa.float64(),
            "ts": pa.timestamp("ms", tz="UTC"),
            "source": pa.string(),
        }
        return pa.table({c: pa.array([], empty[c]) for c in wanted})
    con = log.connect()
    try:
        select = ", ".join(f'"{c}"' for c in wanted)
        return arrow_table(
            con.sql(
                f"SELECT {select} FROM read_parquet({sql_list(files)}, union_by_name = true, "
                "hive_partitioning = false) QUALIFY row_number() OVER "
                '(PARTITION BY request_id, "row" ORDER BY ts DESC) = 1'
            )
        )
    finally:
        con.close()


__all__ = ["FEEDBACK", "read_feedback"]
