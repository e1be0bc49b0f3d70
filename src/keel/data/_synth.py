"""A Gaussian copula for tables: marginals from empirical quantiles, dependence from a
correlation matrix of normal scores. Built on numpy and ``scipy.special`` only.

Fitting maps every column to a normal score: numbers, dates and times through their ranks,
categories through their frequency interval (a uniform draw inside it). Sampling draws
correlated normals and maps them back: numbers by interpolating 1,001 stored quantiles
(integers rounded), categories by their cumulative frequencies. Missing values are drawn at
each column's missing rate. The model stores no rows: quantiles, category frequencies, one
correlation matrix. Categories seen fewer than ``MIN_CATEGORY_COUNT`` times are never
reproduced (they would copy rare, identifying values); a column with no such category (an
identifier) is generated as ``<column>-<n>`` tokens.

A fraction of the rows (``holdout``) is left out of the fit, so that the report can test
utility and membership inference on rows the model never saw.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from keel.exceptions import InvalidArgumentError

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

GRID = 1001
MIN_CATEGORY_COUNT = 5
MAX_CATEGORIES = 500
FORMAT = "keel.synth.copula/1"


@dataclass(frozen=True)
class ColumnModel:
    """How one column is generated (``kind``: numeric, datetime, categorical, token, empty)."""

    name: str
    kind: str
    arrow_type: str
    null_rate: float
    quantiles: list[float] = field(default_factory=list)
    integer: bool = False
    categories: list[Any] = field(default_factory=list)
    probabilities: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class CopulaModel:
    """A fitted Gaussian copula; ``source`` names the data it was fit on."""

    columns: list[ColumnModel]
    correlation: list[list[float]]
    rows_fit: int
    holdout: float
    seed: int
    source: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    method: str = "copula"

    def to_json(self) -> bytes:
        return json.dumps({"format": FORMAT, **asdict(self)}, default=str).encode()

    @classmethod
    def from_json(cls, data: bytes) -> CopulaModel:
        raw = json.loads(data)
        if raw.pop("format", None) != FORMAT:
            raise InvalidArgumentError("this is not a keel copula model (unknown format)")
        raw["columns"] = [ColumnModel(**c) for c in raw["columns"]]
        return cls(**raw)

    def sample(self, n: int, seed: int = 0) -> pa.Table:
        """``n`` synthetic rows with the source's column names and Arrow types."""
        import numpy as np
        import pyarrow as pa
        from scipy.special import ndtr

        if n < 1:
            raise InvalidArgumentError(f"the number of rows must be at least 1, not {n}")
        rng = np.random.default_rng(seed)
        corr = np.asarray(self.correlation, dtype=np.float64)
        d = len(self.columns)
        z = rng.standard_normal((n, d)) @ np.linalg.cholesky(corr).T if d else np.empty((n, 0))
        u = np.clip(ndtr(z), 1e-9, 1 - 1e-9)
        arrays = [_column(c, u[:, j], rng) for j, c in enumerate(self.columns)]
        return pa.table(arrays, names=[c.name for c in self.columns])


def split(rows: int, holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit rows, holdout rows): the same permutation at fit and at report time."""
    import numpy as np

    order = np.random.default_rng(seed).permutation(rows)
    n_hold = round(rows * holdout)
    return np.sort(order[n_hold:]), np.sort(order[:n_hold])


def fit_copula(
    table: pa.Table, source: dict[str, Any], *, holdout: float = 0.2, seed: int = 0
) -> CopulaModel:
    """Fit the copula on ``table`` minus a ``holdout`` share of its rows."""
    import numpy as np

    if not 0 <= holdout < 0.9:
        raise InvalidArgumentError(f"holdout must be in [0, 0.9), not {holdout}")
    if table.num_rows < 10:
        raise InvalidArgumentError(
            f"a copula needs at least 10 rows to fit, the table has {table.num_rows}"
        )
    fit_rows, _ = split(table.num_rows, holdout, seed)
    table = table.take(fit_rows)
    rng = np.random.default_rng(seed + 1)
    columns, scores, notes = [], [], []
    for field_ in table.schema:
        model, z, note = _fit_column(field_.name, table.column(field_.name), rng)
        columns.append(model)
        scores.append(z)
        if note:
            notes.append(note)
    return CopulaModel(
        columns=columns,
        correlation=_correlation(np.column_stack(scores) if scores else np.empty((0, 0))),
        rows_fit=table.num_rows,
        holdout=holdout,
        seed=seed,
        source=source,
        notes=notes,
    )


def _fit_column(
    name: str, col: pa.ChunkedArray, rng: np.random.Generator
) -> tuple[ColumnModel, np.ndarray, str]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = col.type
    n = len(col)
    arr = col.combine_chunks()
    if pa.types.is_floating(kind):
        arr = pc.if_else(pc.is_nan(arr), pa.scalar(None, kind), arr)
    valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    null_rate = float(1 - valid.mean()) if n else 0.0
    z = np.zeros(n)
    base: dict[str, Any] = {"name": name, "arrow_type": str(kind), "null_rate": null_rate}
    if not valid.any() or pa.types.is_null(kind):
        return ColumnModel(kind="empty", **base), z, f"{name!r} is always missing"
    numeric = (pa.types.is_integer(kind) or pa.types.is_floating(kind)) and not (
        pa.types.is_boolean(kind)
    )
    when = pa.types.is_timestamp(kind) or pa.types.is_date(kind)
    if numeric or pa.types.is_decimal(kind) or when:
        return _fit_numeric(arr, kind, valid, z, base, when)
    return _fit_categorical(name, arr, kind, valid, z, base, rng)


def _fit_numeric(
    arr: pa.Array, kind: pa.DataType, valid: np.ndarray, z: np.ndarray, base: dict[str, Any],
    when: bool,
) -> tuple[ColumnModel, np.ndarray, str]:  # fmt: skip
    """A number, date or time column: its quantile grid and normal scores (ranks)."""
    import numpy as np
    import pyarrow as pa
    from scipy.special import ndtri

    values = _as_float(arr.filter(pa.array(valid)), kind)
    ranks = _average_ranks(values)
    z[valid] = ndtri(ranks / (len(values) + 1))
    grid = np.quantile(values, np.linspace(0, 1, GRID))
    # whole numbers stay whole (pandas turns an integer column with gaps into floats)
    integer = pa.types.is_integer(kind) or bool(np.all(values == np.round(values)))
    model = ColumnModel(
        kind="datetime" if when else "numeric",
        quantiles=[float(x) for x in grid],
        integer=integer,
        **base,
    )
    return model, z, ""


def _fit_categorical(
    name: str, arr: pa.Array, kind: pa.DataType, valid: np.ndarray, z: np.ndarray,
    base: dict[str, Any], rng: np.random.Generator,
) -> tuple[ColumnModel, np.ndarray, str]:  # fmt: skip
    """Any other column as categories: the frequent values, their probabilities, and normal
    scores drawn inside each category's slice of the cumulative distribution."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    from scipy.special import ndtri

    if pa.types.is_dictionary(kind):
        arr = arr.cast(kind.value_type)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)) and not (
        pa.types.is_boolean(arr.type)
    ):
        arr = arr.cast(pa.string())
    counts = pc.value_counts(arr.filter(pa.array(valid)))
    values = counts.field("values").to_pylist()
    freqs = np.asarray(counts.field("counts").to_numpy(), dtype=np.float64)
    order = np.argsort(-freqs, kind="stable")
    kept = [i for i in order if freqs[i] >= MIN_CATEGORY_COUNT][:MAX_CATEGORIES]
    if not kept:
        note = f"{name!r} has no value seen {MIN_CATEGORY_COUNT}+ times; generated as tokens"
        return ColumnModel(kind="token", **base), z, note
    cats = [values[i] for i in kept]
    probs = freqs[kept] / freqs[kept].sum()
    note = ""
    if len(kept) < len(values):
        note = f"{name!r}: {len(values) - len(kept)} rare values are not reproduced"
    cum = np.concatenate([[0.0], np.cumsum(probs)])
    idx = pc.index_in(arr, value_set=pa.array(cats, arr.type))
    known = np.asarray(idx.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    i = np.asarray(idx.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)[known]
    draws = cum[i] + rng.random(len(i)) * (cum[i + 1] - cum[i])
    z[known] = ndtri(np.clip(draws, 1e-9, 1 - 1e-9))  # rare values keep a neutral 0
    model = ColumnModel(
        kind="categorical", categories=cats, probabilities=[float(p) for p in probs], **base
    )
    return model, z, note


def _as_float(arr: pa.Array, kind: pa.DataType) -> np.ndarray:
    import numpy as np
    import pyarrow as pa

    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        if pa.types.is_date(kind):
            arr = arr.cast(pa.timestamp("us"))
        arr = arr.cast(pa.int64())
    elif pa.types.is_decimal(kind):
        arr = arr.cast(pa.float64())
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.float64)


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties sharing their average rank (as scipy.stats.rankdata does)."""
    import numpy as np

    order = np.argsort(values, kind="mergesort")
    sorted_v = values[order]
    boundaries = np.concatenate([[True], sorted_v[1:] != sorted_v[:-1], [True]])
    starts = np.flatnonzero(boundaries)
    avg = (starts[:-1] + starts[1:] + 1) / 2.0  # mean of 1-based ranks in each tie group
    ranks = np.empty(len(values))
    ranks[order] = np.repeat(avg, np.diff(starts))
    return ranks


def _correlation(z: np.ndarray) -> list[list[float]]:
    """The normal scores' correlation, repaired to be positive definite."""
    import numpy as np

    d = z.shape[1] if z.ndim == 2 else 0
    if d == 0:
        return []
    std = z.std(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(z, rowvar=False) if d > 1 else np.ones((1, 1))
    corr = np.atleast_2d(corr)
    corr[~np.isfinite(corr)] = 0.0
    corr[std == 0, :] = 0.0
    corr[:, std == 0] = 0.0
    np.fill_diagonal(corr, 1.0)
    values, vectors = np.linalg.eigh(corr)
    repaired = vectors @ np.diag(np.clip(values, 1e-6, None)) @ vectors.T
    scale = np.sqrt(np.diag(repaired))
    repaired = repaired / np.outer(scale, scale)
    return [[float(x) for x in row] for row in repaired]


def _column(c: ColumnModel, u: np.ndarray, rng: np.random.Generator) -> pa.Array:
    import numpy as np

    n = len(u)
    missing = rng.random(n) < c.null_rate if c.null_rate else np.zeros(n, dtype=bool)
    if c.kind in ("empty", "token"):
        return fill_column(c, missing, rng)
    if c.kind == "categorical":
        cum = np.cumsum(c.probabilities)
        idx = np.minimum(np.searchsorted(cum, u, side="right"), len(c.categories) - 1)
        return categories_to_arrow(c, idx, missing)
    grid = np.linspace(0, 1, len(c.quantiles))
    return numbers_to_arrow(c, np.interp(u, grid, np.asarray(c.quantiles)), missing)


def fill_column(c: ColumnModel, missing: np.ndarray, rng: np.random.Generator) -> pa.Array:
    """An ``empty`` column (all nulls) or a ``token`` one (``<column>-<n>``, no real value)."""
    import pyarrow as pa

    n = len(missing)
    if c.kind == "empty":
        return pa.nulls(n, _arrow_type(c.arrow_type))
    ids = rng.integers(0, 10 * n, n)
    tokens = [None if m else f"{c.name}-{i}" for m, i in zip(missing, ids, strict=True)]
    return pa.array(tokens, pa.string())


def categories_to_arrow(c: ColumnModel, idx: np.ndarray, missing: np.ndarray) -> pa.Array:
    """Category numbers (into ``c.categories``) as the column's Arrow type; ``missing`` null."""
    import pyarrow as pa
    import pyarrow.compute as pc

    target = _arrow_type(c.arrow_type)
    values = pa.array(c.categories).take(pa.array(idx))
    values = pc.if_else(pa.array(missing), pa.scalar(None, values.type), values)
    return values.cast(target) if not pa.types.is_dictionary(target) else values


def numbers_to_arrow(c: ColumnModel, x: np.ndarray, missing: np.ndarray) -> pa.Array:
    """Floats (epoch microseconds for times) as the column's Arrow type; ``missing`` null."""
    import numpy as np
    import pyarrow as pa

    target = _arrow_type(c.arrow_type)
    if c.integer or c.kind == "datetime":
        x = np.round(x)
    if c.kind == "datetime":
        ints = pa.array(x.astype(np.int64), mask=missing)
        if pa.types.is_date(target):
            return ints.cast(pa.timestamp("us")).cast(target)
        return ints.cast(pa.int64()).view(pa.timestamp(target.unit, target.tz))
    arr = pa.array(x, mask=missing)
    try:
        return arr.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return arr


def _arrow_type(text: str) -> pa.DataType:
    """Back from ``str(pa type)`` for the types a table column has."""
    import pyarrow as pa

    simple = {
        "bool": pa.bool_(),
        "string": pa.string(),
        "large_string": pa.large_string(),
        "double": pa.float64(),
        "float": pa.float32(),
        "halffloat": pa.float16(),
        "int8": pa.int8(),
        "int16": pa.int16(),
        "int32": pa.int32(),
        "int64": pa.int64(),
        "uint8": pa.uint8(),
        "uint16": pa.uint16(),
        "uint32": pa.uint32(),
        "uint64": pa.uint64(),
        "date32[day]": pa.date32(),
        "date64[ms]": pa.date64(),
        "null": pa.null(),
    }
    if text in simple:
        return simple[text]
    if text.startswith("timestamp["):
        inner = text[len("timestamp[") : -1]
        unit, _, tz = inner.partition(", tz=")
        return pa.timestamp(unit, tz or None)
    if text.startswith("dictionary<"):
        return pa.string()
    if text.startswith("decimal"):
        return pa.float64()
    return pa.string()
