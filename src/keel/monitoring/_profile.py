"""Compact, mergeable profiles of tabular data: the reference that monitoring compares to.

A numeric column keeps its moments and a histogram over (by default) 100 quantile bins of
the reference, plus one bin below and one above its range; a categorical column keeps the
frequency of its (by default) 200 most common values. A window of production data profiled
``like=reference`` is binned on the reference's edges, so two windows merge by adding
counts and the drift tests read them directly. Missing means null, NaN or +-inf.

A profile is a few kilobytes per column and serialises to JSON (:meth:`DatasetProfile.to_dict`)
and to an Arrow table (:meth:`DatasetProfile.to_arrow`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from keel.exceptions import InvalidArgumentError
from keel.monitoring._column_profiles import (
    DEFAULT_BINS,
    DEFAULT_MAX_CATEGORIES,
    CategoricalProfile,
    ColumnProfile,
    NumericProfile,
    OtherProfile,
)
from keel.monitoring._columns import Column, column_names, iter_columns, num_rows
from keel.monitoring._rebin import merge_numeric
from keel.monitoring._serialize import (
    parts_from_arrow,
    parts_from_dict,
    profile_to_arrow,
    profile_to_dict,
)

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa


@dataclass(frozen=True, eq=False, slots=True)
class DatasetProfile:
    """One profile per column, in column order, and the number of rows profiled."""

    num_rows: int
    columns: dict[str, ColumnProfile]

    def __getitem__(self, name: str) -> ColumnProfile:
        return self.columns[name]

    def merge(self, other: DatasetProfile) -> DatasetProfile:
        return merge_profiles(self, other)

    def to_dict(self) -> dict[str, Any]:
        return profile_to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetProfile:
        num_rows, columns = parts_from_dict(data)
        return cls(num_rows, columns)

    def to_arrow(self) -> pa.Table:
        return profile_to_arrow(self)

    @classmethod
    def from_arrow(cls, table: pa.Table) -> DatasetProfile:
        num_rows, columns = parts_from_arrow(table)
        return cls(num_rows, columns)


def profile_from_json(text: str | bytes) -> DatasetProfile:
    """A profile from :func:`~keel.monitoring._serialize.profile_to_json`'s text."""
    try:
        return DatasetProfile.from_dict(json.loads(text))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"not a keel profile: {exc}") from exc


def profile(
    data: Any,
    *,
    like: DatasetProfile | None = None,
    columns: list[str] | None = None,
    bins: int = DEFAULT_BINS,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
) -> DatasetProfile:
    """Profile a DataFrame, Arrow table or dict of arrays.

    With ``like``, numeric columns it knows are binned on its edges, so the result can be
    compared with it and merged with other windows profiled the same way.
    """
    if bins < 2:
        raise InvalidArgumentError(f"bins={bins} is too few; use at least 2 (default 100)")
    rows = num_rows(data)

    def one(col: Column) -> ColumnProfile:
        ref = like.columns.get(col.name) if like is not None else None
        return column_profile(col, ref=ref, bins=bins, max_categories=max_categories)

    cols = iter_columns(data, columns)
    width = len(columns) if columns is not None else len(column_names(data))
    if rows * width < _PARALLEL_VALUES:
        done = [one(c) for c in cols]
    else:
        done = list(_map_bounded(one, cols))
    return DatasetProfile(num_rows=rows, columns={c.name: c for c in done})


#: Above this many values, columns are profiled on a few threads (NumPy's sort releases the GIL).
_PARALLEL_VALUES = 2_000_000


def _map_bounded(
    fn: Callable[[Column], ColumnProfile], items: Iterator[Column]
) -> Iterator[ColumnProfile]:
    """``map`` on a thread pool, in order, with at most two columns per thread in flight (so
    memory stays a few columns above the input, however many columns there are)."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    workers = max(1, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(workers, thread_name_prefix="keel-profile") as pool:
        pending: deque[Any] = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def profile_batches(
    batches: Iterable[Any],
    *,
    like: DatasetProfile | None = None,
    columns: list[str] | None = None,
    bins: int = DEFAULT_BINS,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
) -> DatasetProfile | None:
    """Profile a stream of batches in constant memory (None when the stream is empty).

    With ``like`` the merge is exact; without it each batch gets its own quantile bins and
    merging re-bins, so quantiles are approximate to about one bin width.
    """
    total: DatasetProfile | None = None
    for batch in batches:
        part = profile(batch, like=like, columns=columns, bins=bins, max_categories=max_categories)
        total = part if total is None else merge_profiles(total, part, bins=bins)
    return total


def column_profile(
    col: Column,
    *,
    ref: ColumnProfile | None = None,
    bins: int = DEFAULT_BINS,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
) -> ColumnProfile:
    if col.kind == "numeric" and col.values is not None:
        edges = ref.edges if isinstance(ref, NumericProfile) else None
        return _numeric(col, edges, bins)
    if col.kind == "categorical" and col.arrow is not None:
        return _categorical(col, max_categories)
    nulls = col.arrow.null_count if col.arrow is not None else 0
    return OtherProfile(col.name, col.dtype, col.length - nulls, nulls)


def _numeric(col: Column, edges: np.ndarray | None, bins: int) -> NumericProfile:
    import numpy as np

    values = col.values
    assert values is not None
    finite = np.isfinite(values)
    n_finite = int(np.count_nonzero(finite))
    ordered = np.sort(values[finite] if n_finite < len(values) else values)
    nulls = col.length - n_finite
    if n_finite == 0:
        empty_edges = edges if edges is not None else np.zeros(0)
        return NumericProfile(
            col.name,
            col.dtype,
            0,
            nulls,
            None,
            None,
            None,
            0.0,
            empty_edges,
            np.zeros(len(empty_edges) + 1, np.int64),
        )
    if edges is None:
        edges = quantile_edges(ordered, bins)
    counts = counts_on_sorted(ordered, edges)
    mean = float(ordered.mean())
    centred = ordered - mean
    np.multiply(centred, centred, out=centred)  # not np.dot: BLAS threads stall under load
    m2 = float(centred.sum())
    del centred
    below = ordered[: counts[0]]
    above = ordered[len(ordered) - counts[-1] :]
    return NumericProfile(
        name=col.name,
        dtype=col.dtype,
        count=n_finite,
        nulls=nulls,
        min=float(ordered[0]),
        max=float(ordered[-1]),
        mean=mean,
        m2=m2,
        edges=edges,
        counts=counts,
        tail_sums=(float(below.sum()), float(above.sum())),
    )


def quantile_edges(ordered: np.ndarray, bins: int) -> np.ndarray:
    """Unique quantile edges of sorted values, led by a sentinel just below the minimum.

    Extra edges in the outer 1% keep the tails sharp, where shifted data piles up.
    """
    import numpy as np

    probs = np.unique(np.concatenate([np.linspace(0.0, 1.0, bins + 1), _TAIL_PROBS]))
    pos = probs * (len(ordered) - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, len(ordered) - 1)
    qs = ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
    qs[0], qs[-1] = ordered[0], ordered[-1]
    unique = np.unique(qs)
    return np.concatenate([[np.nextafter(unique[0], -np.inf)], unique])


_TAIL_PROBS = (0.001, 0.002, 0.005, 0.995, 0.998, 0.999)


def counts_on_sorted(ordered: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Histogram of sorted values over ``edges`` (bins right-closed, plus two open tails)."""
    import numpy as np

    at_or_below = np.searchsorted(ordered, edges, side="right")
    cum = np.concatenate([[0], at_or_below, [len(ordered)]])
    return np.diff(cum).astype(np.int64)


def _categorical(col: Column, max_categories: int) -> CategoricalProfile:
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = col.arrow
    assert arr is not None
    nulls = arr.null_count
    if len(arr) == nulls:
        return CategoricalProfile(col.name, col.dtype, 0, nulls, {}, 0)
    counts = pc.value_counts(arr.drop_null())
    values = counts.field("values")
    freqs = counts.field("counts").to_numpy()
    if pa.types.is_boolean(values.type):
        keys = ["true" if v else "false" for v in values.to_pylist()]
    else:
        keys = [str(v) for v in values.cast(pa.string()).to_pylist()]
    cats, other = _cap(dict(zip(keys, (int(f) for f in freqs), strict=True)), max_categories)
    return CategoricalProfile(col.name, col.dtype, len(arr) - nulls, nulls, cats, other)


def _cap(counts: dict[str, int], limit: int) -> tuple[dict[str, int], int]:
    """The ``limit`` most frequent values (ties by name, so the result is deterministic)."""
    if len(counts) <= limit:
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))), 0
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    kept = dict(ordered[:limit])
    return kept, sum(v for _, v in ordered[limit:])


# -- merging ---------------------------------------------------------------------------------


def merge_profiles(
    a: DatasetProfile, b: DatasetProfile, *, bins: int = DEFAULT_BINS
) -> DatasetProfile:
    """The profile of the rows of ``a`` and ``b`` together.

    A column only one side has counts the other side's rows as missing. Numeric columns on
    the same edges add exactly; on different edges they are re-binned (approximate).
    """
    names = list(a.columns) + [n for n in b.columns if n not in a.columns]
    out: dict[str, ColumnProfile] = {}
    for name in names:
        left, right = a.columns.get(name), b.columns.get(name)
        if left is None or right is None:
            present = left if left is not None else right
            missing_rows = b.num_rows if left is not None else a.num_rows
            assert present is not None
            out[name] = replace(present, nulls=present.nulls + missing_rows)
            continue
        out[name] = _merge_column(left, right, max_categories=DEFAULT_MAX_CATEGORIES, bins=bins)
    return DatasetProfile(a.num_rows + b.num_rows, out)


def _merge_column(
    a: ColumnProfile, b: ColumnProfile, *, max_categories: int, bins: int
) -> ColumnProfile:
    if a.kind != b.kind:
        raise InvalidArgumentError(
            f"cannot merge column {a.name!r}: it is {a.kind} ({a.dtype}) in one profile and "
            f"{b.kind} ({b.dtype}) in the other; cast it to one type before profiling"
        )
    if isinstance(a, NumericProfile) and isinstance(b, NumericProfile):
        return merge_numeric(a, b, bins=bins)
    if isinstance(a, CategoricalProfile) and isinstance(b, CategoricalProfile):
        counts = dict(a.categories)
        for key, value in b.categories.items():
            counts[key] = counts.get(key, 0) + value
        cats, folded = _cap(counts, max(max_categories, len(a.categories)))
        return CategoricalProfile(
            a.name, a.dtype, a.count + b.count, a.nulls + b.nulls, cats, a.other + b.other + folded
        )
    return OtherProfile(a.name, a.dtype, a.count + b.count, a.nulls + b.nulls)
