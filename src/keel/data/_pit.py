"""Point-in-time correct training sets: feature tables joined as of each label's timestamp.

For every row of the entity (label) table and every feature table, keel takes the feature row
with the same keys whose event time is the latest one **at or before** the label's time (DuckDB's
``ASOF LEFT JOIN``), so no value from the future reaches a training row. Rules:

- ``ttl``: a feature row older than the label's time minus ``ttl`` is too stale; its columns
  are null for that label (as if no row were found).
- Time zones: timestamps are compared as instants. Time-zone-aware columns (any zone) are
  compared in UTC; a join that mixes aware and naive timestamps is refused, because a naive
  time has no instant until you say which zone it is in. Dates count as midnight.
- Duplicate keys at one timestamp in a feature table are refused by default
  (``duplicates="error"``); ``duplicates="last"`` keeps the row that comes last in the table.
  Repeated label rows are all kept: the result has exactly one row per entity row, in order.
- Rows with a null key or timestamp never match (their features are null); an empty entity or
  feature table is an error.

Only row numbers go through DuckDB; the columns are gathered with Arrow ``take`` from the
original tables, so types (time zones, categoricals, decimals) come back unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from keel.data._inputs import Loaded as _Loaded
from keel.data._inputs import load_input as _load
from keel.exceptions import InvalidArgumentError

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from keel.data._client import DatasetClient
    from keel.store import DatasetVersion

_US = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": 1}
_TTL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_TTL_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True, slots=True)
class FeatureTable:
    """One feature table for :func:`training_set`.

    ``source``: a dataset reference (``"features@2"``), a Parquet/CSV path, a DataFrame or an
    Arrow table. ``keys`` default to the columns it shares with the entity table (other than
    the timestamps); ``timestamp`` defaults to the entity table's timestamp column name;
    ``ttl`` (``timedelta`` or ``"7d"``, ``"12h"``...) overrides the join's default; ``columns``
    picks the features (default: all others); ``prefix`` is put before each feature's name.
    """

    source: Any
    keys: Sequence[str] | None = None
    timestamp: str | None = None
    ttl: timedelta | str | None = None
    columns: Sequence[str] | None = None
    prefix: str = ""
    name: str = ""


@dataclass(frozen=True)
class TrainingSet:
    """The joined table, the version it was saved as (if a name was given) and its sources."""

    table: pa.Table
    version: DatasetVersion | None
    sources: list[dict[str, Any]] = field(default_factory=list)

    def to_pandas(self) -> Any:
        return self.table.to_pandas()


def parse_ttl(ttl: timedelta | str | None) -> int | None:
    """A TTL in microseconds (None: no limit); strings like ``"90s"``, ``"12h"``, ``"7d"``."""
    if ttl is None:
        return None
    if isinstance(ttl, timedelta):
        seconds = ttl.total_seconds()
    else:
        m = _TTL.match(str(ttl))
        if m is None:
            raise InvalidArgumentError(
                f"ttl {ttl!r} is not a duration; use a timedelta or a number with a unit "
                "s, m, h, d or w, like '7d' or '12h'"
            )
        seconds = float(m.group(1)) * _TTL_UNIT[m.group(2)]
    if seconds <= 0:
        raise InvalidArgumentError(f"ttl must be positive, not {ttl!r}")
    return int(seconds * 1_000_000)


def training_set(
    entities: Any,
    features: Sequence[Any],
    *,
    timestamp: str = "event_time",
    keys: Sequence[str] | None = None,
    ttl: timedelta | str | None = None,
    duplicates: str = "error",
    datasets: DatasetClient | None = None,
    name: str | None = None,
    description: str = "",
) -> TrainingSet:
    """Join ``features`` onto ``entities`` as of each entity row's ``timestamp``.

    ``entities`` and each feature (a :class:`FeatureTable`, a :class:`PredictionFeatures` or a
    bare source) may be dataset references (which need ``datasets``), Parquet/CSV paths,
    DataFrames or Arrow tables. With ``name`` the result is saved as the next version of that
    dataset, its source naming every input version (``datasets`` is then required).
    """
    _check_options(features, duplicates, name, datasets)
    save = name is not None  # content hashes are for the saved lineage only (they cost a pass)
    ent = _load(entities, datasets, "entities", hashed=save)
    if ent.table.num_rows == 0:
        raise InvalidArgumentError(f"the entity table {ent.label} has no rows; nothing to label")
    join = _Join(ent, timestamp, _time_column(ent, timestamp), keys, parse_ttl(ttl), duplicates)
    out, sources = ent.table, [{"role": "entities", **ent.lineage}]
    con = _connect()
    try:
        for i, spec in enumerate(_feature_specs(features, datasets, save)):
            feat = _load(spec.source, datasets, spec.name or f"features[{i}]", hashed=save)
            columns, source = _join_one(con, join, feat, spec)
            for new, values in columns.items():
                if new in out.column_names:
                    raise InvalidArgumentError(
                        f"column {new!r} of {feat.label} is already in the training set; give "
                        f"FeatureTable(..., prefix='...') or pick columns"
                    )
                out = out.append_column(new, values)
            sources.append(source)
    finally:
        con.close()
    version = None
    if name is not None and datasets is not None:
        source = {"type": "training_set", "timestamp": timestamp, "sources": sources}
        version = datasets._log_derived(name, out, source, description)
    return TrainingSet(out, version, sources)


@dataclass(frozen=True, slots=True)
class _Join:
    """The entity side of a join and the options every feature table shares."""

    ent: _Loaded
    ts_name: str
    ts: pa.Array
    keys: Sequence[str] | None
    ttl_us: int | None
    duplicates: str


def _check_options(
    features: Sequence[Any], duplicates: str, name: str | None, datasets: DatasetClient | None
) -> None:
    if duplicates not in ("error", "last"):
        raise InvalidArgumentError(f"duplicates must be 'error' or 'last', not {duplicates!r}")
    if not features:
        raise InvalidArgumentError("give at least one feature table to join")
    if name is not None and datasets is None:
        raise InvalidArgumentError("saving a training set by name needs datasets=DatasetClient")


def _feature_specs(
    features: Sequence[Any], datasets: DatasetClient | None, hashed: bool
) -> list[FeatureTable]:
    """Every feature as a :class:`FeatureTable`; a prediction log becomes two of them."""
    from keel.data._pit_predlog import PredictionFeatures, prediction_tables

    specs: list[FeatureTable] = []
    for f in features:
        if isinstance(f, PredictionFeatures):
            specs += [
                FeatureTable(t, keys=f.keys, timestamp="ts", ttl=f.ttl, prefix=f.column_prefix)
                for t in prediction_tables(f, datasets, hashed=hashed)
            ]
        else:
            specs.append(f if isinstance(f, FeatureTable) else FeatureTable(f))
    return specs


def _join_one(
    con: duckdb.DuckDBPyConnection, join: _Join, feat: _Loaded, spec: FeatureTable
) -> tuple[dict[str, pa.ChunkedArray], dict[str, Any]]:
    """The feature columns taken as of each entity row (by new name), and their lineage."""
    ent = join.ent
    if feat.table.num_rows == 0:
        raise InvalidArgumentError(f"the feature table {feat.label} has no rows")
    f_ts_name = spec.timestamp or join.ts_name
    f_ts = _time_column(feat, f_ts_name)
    _same_zone_kind(ent, join.ts_name, join.ts, feat, f_ts_name, f_ts)
    f_keys = list(
        spec.keys or join.keys or _shared_keys(ent.table, feat.table, join.ts_name, f_ts_name)
    )
    _check_keys(ent, feat, f_keys)
    cols = _feature_columns(feat, spec, f_keys, f_ts_name)
    limit = parse_ttl(spec.ttl) if spec.ttl is not None else join.ttl_us
    rows = _asof_rows(
        con, ent.table, feat.table, f_keys, join.ts, f_ts, limit, join.duplicates, feat.label
    )
    taken = {spec.prefix + c: feat.table.column(c).take(rows) for c in cols}
    source = {
        "role": "features",
        **feat.lineage,
        "keys": f_keys,
        "timestamp": f_ts_name,
        "ttl_us": limit,
        "columns": cols,
        "prefix": spec.prefix,
    }
    return taken, source


# -- checking -------------------------------------------------------------------------------
def _time_column(loaded: _Loaded, name: str) -> pa.Array:
    """The column as int64 microseconds since the epoch (UTC for aware times)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if name not in loaded.table.column_names:
        raise InvalidArgumentError(
            f"{loaded.label} has no timestamp column {name!r}; its columns are "
            f"{loaded.table.column_names}"
        )
    arr = loaded.table.column(name).combine_chunks()
    kind = arr.type
    if pa.types.is_date(kind):
        arr = arr.cast(pa.timestamp("us"))
        kind = arr.type
    if not pa.types.is_timestamp(kind):
        raise InvalidArgumentError(
            f"column {name!r} of {loaded.label} is {kind}, not a timestamp or date; convert it "
            "(for example pd.to_datetime(df[col]))"
        )
    ints = arr.cast(pa.int64())
    unit = kind.unit
    if unit == "ns":
        return pc.divide(ints, 1000)
    return pc.multiply(ints, _US[unit])


def _same_zone_kind(
    ent: _Loaded, e_name: str, e_ts: pa.Array, feat: _Loaded, f_name: str, f_ts: pa.Array
) -> None:
    e_tz = _tz(ent.table, e_name)
    f_tz = _tz(feat.table, f_name)
    if (e_tz is None) != (f_tz is None):
        aware, naive = (f"{ent.label}.{e_name}", f"{feat.label}.{f_name}")
        if e_tz is None:
            aware, naive = naive, aware
        raise InvalidArgumentError(
            f"{aware} is time-zone aware but {naive} is naive; keel will not guess the naive "
            "one's zone: localise it (df[col].dt.tz_localize('UTC')) or drop the zone from both"
        )


def _tz(table: pa.Table, name: str) -> str | None:
    import pyarrow as pa

    kind = table.schema.field(name).type
    return kind.tz if pa.types.is_timestamp(kind) else None


def _shared_keys(ent: pa.Table, feat: pa.Table, e_ts: str, f_ts: str) -> list[str]:
    shared = [c for c in ent.column_names if c in feat.column_names and c not in (e_ts, f_ts)]
    if not shared:
        raise InvalidArgumentError(
            f"the entity table and a feature table share no key column (entity columns "
            f"{ent.column_names}, feature columns {feat.column_names}); pass keys=[...]"
        )
    return shared


def _check_keys(ent: _Loaded, feat: _Loaded, keys: list[str]) -> None:
    import pyarrow as pa

    for k in keys:
        for side in (ent, feat):
            if k not in side.table.column_names:
                raise InvalidArgumentError(f"key column {k!r} is missing from {side.label}")
        a, b = ent.table.schema.field(k).type, feat.table.schema.field(k).type
        numeric = (pa.types.is_integer(a) and pa.types.is_integer(b)) or a == b
        stringy = all(pa.types.is_string(t) or pa.types.is_large_string(t) for t in (a, b))
        if not (numeric or stringy):
            raise InvalidArgumentError(
                f"key {k!r} is {a} in {ent.label} but {b} in {feat.label}; cast one side"
            )


def _feature_columns(feat: _Loaded, spec: FeatureTable, keys: list[str], ts: str) -> list[str]:
    if spec.columns is not None:
        missing = [c for c in spec.columns if c not in feat.table.column_names]
        if missing:
            raise InvalidArgumentError(f"{feat.label} has no column(s) {missing}")
        return list(spec.columns)
    return [c for c in feat.table.column_names if c not in keys and c != ts]


# -- the join -------------------------------------------------------------------------------
def _connect() -> duckdb.DuckDBPyConnection:
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads TO 2")
    return con


def _asof_rows(
    con: duckdb.DuckDBPyConnection,
    ent: pa.Table,
    feat: pa.Table,
    keys: list[str],
    e_ts: pa.Array,
    f_ts: pa.Array,
    ttl_us: int | None,
    duplicates: str,
    label: str,
) -> pa.Array:
    """For each entity row, the row number of its feature row (null: none, or too stale)."""
    import numpy as np
    import pyarrow as pa

    cols = {f"k{i}": ent.column(k) for i, k in enumerate(keys)}
    e = pa.table({**cols, "ts": e_ts, "row": pa.array(np.arange(ent.num_rows, dtype=np.int64))})
    cols = {f"k{i}": feat.column(k) for i, k in enumerate(keys)}
    f = pa.table({**cols, "ts": f_ts, "row": pa.array(np.arange(feat.num_rows, dtype=np.int64))})
    on = " AND ".join(f"e.k{i} = f.k{i}" for i in range(len(keys)))
    key_list = ", ".join(f"k{i}" for i in range(len(keys)))
    stale = "FALSE" if ttl_us is None else f"e.ts - f.ts > {int(ttl_us)}"
    con.register("e", e)
    con.register("f_raw", f)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE f AS SELECT * FROM f_raw WHERE ts IS NOT NULL AND "
        + " AND ".join(f"k{i} IS NOT NULL" for i in range(len(keys)))
    )
    _dedupe(con, keys, key_list, duplicates, label)
    result = con.sql(
        f"SELECT e.row, CASE WHEN f.row IS NULL OR {stale} THEN NULL ELSE f.row END AS fr "
        f"FROM e ASOF LEFT JOIN f ON {on} AND e.ts >= f.ts"
    ).to_arrow_table()
    # Back into entity order by scattering (half the time of an ORDER BY in the join).
    order = result.column("row").to_numpy()
    found = result.column("fr").fill_null(-1).to_numpy()
    rows = np.empty(ent.num_rows, dtype=np.int64)
    rows[order] = found
    return pa.array(rows, mask=rows < 0)


def _dedupe(
    con: duckdb.DuckDBPyConnection, keys: list[str], key_list: str, duplicates: str, label: str
) -> None:
    """Feature rows sharing keys and a timestamp: refused, or the last one kept."""
    dupes = con.execute(
        f"SELECT {key_list}, ts, count(*) AS n FROM f GROUP BY ALL HAVING n > 1 LIMIT 1"
    ).fetchall()
    if dupes and duplicates == "error":
        where = dict(zip(keys, dupes[0][:-2], strict=True))
        raise InvalidArgumentError(
            f"{label} has more than one row for keys {where} at "
            f"one timestamp; deduplicate it or pass duplicates='last' (last row wins)"
        )
    if dupes:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE f AS SELECT * FROM f QUALIFY row = "
            f"max(row) OVER (PARTITION BY {key_list}, ts)"
        )
