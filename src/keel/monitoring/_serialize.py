"""Profiles to and from JSON-ready dicts and Arrow tables (both round-trip exactly).

Reading gives a profile's parts, ``(num_rows, columns)``: :class:`DatasetProfile`'s
``from_dict``/``from_arrow`` build the profile from them, so this module sits below it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from keel.exceptions import InvalidArgumentError
from keel.monitoring._column_profiles import (
    FORMAT_VERSION,
    CategoricalProfile,
    ColumnProfile,
    NumericProfile,
    OtherProfile,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from keel.monitoring._profile import DatasetProfile

#: What a stored profile reads back as: its number of rows and its columns by name.
Parts = tuple[int, dict[str, ColumnProfile]]


def profile_to_dict(p: DatasetProfile) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "num_rows": p.num_rows,
        "columns": [_column_to_dict(c) for c in p.columns.values()],
    }


def _column_to_dict(c: ColumnProfile) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": c.name,
        "kind": c.kind,
        "dtype": c.dtype,
        "count": c.count,
        "nulls": c.nulls,
    }
    if isinstance(c, NumericProfile):
        out.update(
            min=c.min,
            max=c.max,
            mean=c.mean,
            m2=c.m2,
            edges=[float(e) for e in c.edges],
            counts=[int(n) for n in c.counts],
            tail_sums=list(c.tail_sums),
        )
    elif isinstance(c, CategoricalProfile):
        out.update(categories=dict(c.categories), other=c.other)
    return out


def parts_from_dict(data: dict[str, Any]) -> Parts:
    if not isinstance(data, dict) or "columns" not in data:
        raise InvalidArgumentError("not a keel profile: expected a dict with 'columns'")
    if data.get("format", FORMAT_VERSION) > FORMAT_VERSION:
        raise InvalidArgumentError(
            f"profile format {data['format']} is newer than this keel understands "
            f"({FORMAT_VERSION}); upgrade keel"
        )
    columns = [_column_from_dict(c) for c in data["columns"]]
    return int(data["num_rows"]), {c.name: c for c in columns}


def _column_from_dict(d: dict[str, Any]) -> ColumnProfile:
    import numpy as np

    kind = d.get("kind")
    common = (str(d["name"]), str(d["dtype"]), int(d["count"]), int(d["nulls"]))
    if kind == "numeric":
        tails = d.get("tail_sums") or [0.0, 0.0]
        return NumericProfile(
            *common,
            min=d.get("min"),
            max=d.get("max"),
            mean=d.get("mean"),
            m2=float(d.get("m2") or 0.0),
            edges=np.asarray(d["edges"], dtype=np.float64),
            counts=np.asarray(d["counts"], dtype=np.int64),
            tail_sums=(float(tails[0]), float(tails[1])),
        )
    if kind == "categorical":
        cats = {str(k): int(v) for k, v in dict(d.get("categories") or {}).items()}
        return CategoricalProfile(*common, categories=cats, other=int(d.get("other") or 0))
    if kind == "other":
        return OtherProfile(*common)
    raise InvalidArgumentError(f"column {d.get('name')!r} has unknown profile kind {kind!r}")


def profile_to_json(p: DatasetProfile) -> str:
    return json.dumps(profile_to_dict(p), separators=(",", ":"))


def profile_to_arrow(p: DatasetProfile) -> pa.Table:
    """One row per column; histogram and categories as list columns."""
    import pyarrow as pa

    rows = [_column_to_dict(c) for c in p.columns.values()]
    num = [r if r["kind"] == "numeric" else {} for r in rows]
    cat = [r.get("categories", {}) for r in rows]
    table = pa.table(
        {
            "name": pa.array([r["name"] for r in rows], pa.string()),
            "kind": pa.array([r["kind"] for r in rows], pa.string()),
            "dtype": pa.array([r["dtype"] for r in rows], pa.string()),
            "count": pa.array([r["count"] for r in rows], pa.int64()),
            "nulls": pa.array([r["nulls"] for r in rows], pa.int64()),
            "min": pa.array([r.get("min") for r in num], pa.float64()),
            "max": pa.array([r.get("max") for r in num], pa.float64()),
            "mean": pa.array([r.get("mean") for r in num], pa.float64()),
            "m2": pa.array([r.get("m2") for r in num], pa.float64()),
            "edges": pa.array([r.get("edges") for r in num], pa.list_(pa.float64())),
            "counts": pa.array([r.get("counts") for r in num], pa.list_(pa.int64())),
            "tail_sums": pa.array([r.get("tail_sums") for r in num], pa.list_(pa.float64())),
            "categories": pa.array([list(c) for c in cat], pa.list_(pa.string())),
            "category_counts": pa.array([list(c.values()) for c in cat], pa.list_(pa.int64())),
            "other": pa.array([r.get("other", 0) for r in rows], pa.int64()),
        }
    )
    meta = {
        b"keel.profile.format": str(FORMAT_VERSION).encode(),
        b"keel.profile.num_rows": str(p.num_rows).encode(),
    }
    return table.replace_schema_metadata(meta)


def parts_from_arrow(table: pa.Table) -> Parts:
    meta = table.schema.metadata or {}
    if b"keel.profile.num_rows" not in meta:
        raise InvalidArgumentError("not a keel profile table: its schema metadata has no num_rows")
    columns = []
    for row in table.to_pylist():
        row["categories"] = dict(
            zip(row.pop("categories") or [], row.pop("category_counts") or [], strict=True)
        )
        columns.append(_column_from_dict(row))
    return int(meta[b"keel.profile.num_rows"]), {c.name: c for c in columns}
