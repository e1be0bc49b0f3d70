"""What changed between two dataset versions: schema, statistics per column, files.

Works on the stored schema and profile only (no data is read). Statistics are compared
against thresholds scaled to the column, so sampling noise is not reported: a mean moving
by 1% of a standard deviation is not a change; a null rate going from 0% to 5% is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from keel.store import DatasetFile, DatasetVersion


@dataclass(frozen=True, slots=True)
class DiffThresholds:
    """When a statistic counts as changed. Distances are absolute unless named a ratio."""

    null_rate: float = 0.01  # share of missing values, e.g. 0.02 -> 0.04 is reported
    mean_std: float = 0.1  # mean shift, in standard deviations
    std_ratio: float = 0.1  # relative change of the standard deviation
    quantile_std: float = 0.1  # shift of p5..p95, in standard deviations
    range_std: float = 0.5  # shift of min or max, in standard deviations
    distinct_ratio: float = 0.1  # relative change of the distinct count
    category_share: float = 0.05  # share of a frequent category, e.g. 30% -> 36%


@dataclass(frozen=True, slots=True)
class Retyped:
    column: str
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class StatChange:
    """One statistic of one column that moved by more than its threshold."""

    column: str
    stat: str
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class DatasetDiff:
    a: str
    b: str
    rows_before: int | None
    rows_after: int | None
    added_columns: list[dict[str, Any]] = field(default_factory=list)
    removed_columns: list[dict[str, Any]] = field(default_factory=list)
    retyped_columns: list[Retyped] = field(default_factory=list)
    stat_changes: list[StatChange] = field(default_factory=list)
    files_added: list[str] = field(default_factory=list)
    files_removed: list[str] = field(default_factory=list)
    files_modified: list[str] = field(default_factory=list)
    same_content: bool = False

    @property
    def schema_changed(self) -> bool:
        return bool(self.added_columns or self.removed_columns or self.retyped_columns)

    @property
    def changed(self) -> bool:
        return not self.same_content and (
            self.schema_changed
            or bool(self.stat_changes)
            or self.rows_before != self.rows_after
            or bool(self.files_added or self.files_removed or self.files_modified)
        )


def diff_versions(
    a: DatasetVersion,
    b: DatasetVersion,
    files_a: Sequence[DatasetFile] = (),
    files_b: Sequence[DatasetFile] = (),
    thresholds: DiffThresholds | None = None,
) -> DatasetDiff:
    """Compare version ``a`` (before) with ``b`` (after)."""
    limits = thresholds or DiffThresholds()
    before = {c["name"]: c for c in a.schema}
    after = {c["name"]: c for c in b.schema}
    cols_a = a.profile.get("columns", {})
    cols_b = b.profile.get("columns", {})
    changes: list[StatChange] = []
    for name in (n for n in after if n in before):
        if name in cols_a and name in cols_b:  # int64 -> double still compares its numbers
            changes.extend(column_changes(name, cols_a[name], cols_b[name], limits))
    added, removed, modified = (
        _file_changes(files_a, files_b) if a.kind == b.kind == "files" else ([], [], [])
    )
    return DatasetDiff(
        a=a.ref,
        b=b.ref,
        rows_before=a.num_rows,
        rows_after=b.num_rows,
        added_columns=[c for n, c in after.items() if n not in before],
        removed_columns=[c for n, c in before.items() if n not in after],
        retyped_columns=[
            Retyped(n, before[n]["type"], c["type"])
            for n, c in after.items()
            if n in before and before[n]["type"] != c["type"]
        ],
        stat_changes=changes,
        files_added=added,
        files_removed=removed,
        files_modified=modified,
        same_content=a.content_hash == b.content_hash,
    )


def column_changes(
    name: str, a: Mapping[str, Any], b: Mapping[str, Any], limits: DiffThresholds
) -> list[StatChange]:
    """The statistics of one column (same type in both versions) that changed."""
    out: list[StatChange] = []
    if abs((b.get("null_rate") or 0.0) - (a.get("null_rate") or 0.0)) > limits.null_rate:
        out.append(StatChange(name, "null_rate", a.get("null_rate"), b.get("null_rate")))
    da, db = a.get("distinct"), b.get("distinct")
    if da is not None and db is not None and _ratio_moved(da, db, limits.distinct_ratio):
        out.append(StatChange(name, "distinct", da, db))
    if "mean" in a and "mean" in b:
        out.extend(_numeric_changes(name, a, b, limits))
    if "top" in a and "top" in b:
        out.extend(_category_changes(name, a, b, limits))
    return out


def _numeric_changes(
    name: str, a: Mapping[str, Any], b: Mapping[str, Any], limits: DiffThresholds
) -> list[StatChange]:
    scale = max(a.get("std") or 0.0, b.get("std") or 0.0)

    def moved(x: Any, y: Any, k: float) -> bool:
        if x is None or y is None:
            return x is not y
        if scale == 0.0:  # a constant column: any change is a change
            return bool(abs(y - x) > 1e-12 * max(1.0, abs(x)))
        return bool(abs(y - x) > k * scale)

    out = [
        StatChange(name, stat, a.get(stat), b.get(stat))
        for stat, k in (
            ("mean", limits.mean_std),
            ("min", limits.range_std),
            ("max", limits.range_std),
        )
        if moved(a.get(stat), b.get(stat), k)
    ]
    sa, sb = a.get("std"), b.get("std")
    if sa is not None and sb is not None and _ratio_moved(sa, sb, limits.std_ratio):
        out.append(StatChange(name, "std", sa, sb))
    qa, qb = a.get("quantiles") or {}, b.get("quantiles") or {}
    out.extend(
        StatChange(name, f"quantiles.{q}", qa[q], qb[q])
        for q in qa
        if q in qb and moved(qa[q], qb[q], limits.quantile_std)
    )
    return out


def _category_changes(
    name: str, a: Mapping[str, Any], b: Mapping[str, Any], limits: DiffThresholds
) -> list[StatChange]:
    shares_a, floor_a = _shares(a)
    shares_b, floor_b = _shares(b)
    out: list[StatChange] = []
    for value in sorted({*shares_a, *shares_b}, key=str):
        # A value missing from a top list is at most as frequent as that list's last entry.
        sa = shares_a.get(value, floor_a)
        sb = shares_b.get(value, floor_b)
        if abs(sb - sa) > limits.category_share:
            out.append(StatChange(name, f"share[{value}]", round(sa, 6), round(sb, 6)))
    return out


def _shares(profile: Mapping[str, Any]) -> tuple[dict[Any, float], float]:
    """Share of each top value among non-null rows, and the bound for values not listed."""
    top = profile.get("top") or []
    nonnull = profile.get("count") or sum(t["count"] for t in top)
    if not top or not nonnull:
        return {}, 0.0
    shares = {t["value"]: t["count"] / nonnull for t in top}
    complete = (profile.get("distinct") or 0) <= len(top)
    return shares, 0.0 if complete else min(shares.values())


def _ratio_moved(x: float, y: float, ratio: float) -> bool:
    if x == y:
        return False
    base = max(abs(x), abs(y))
    return base > 0 and abs(y - x) / base > ratio


def _file_changes(
    files_a: Sequence[DatasetFile], files_b: Sequence[DatasetFile]
) -> tuple[list[str], list[str], list[str]]:
    sha_a = {f.path: f.blob_sha for f in files_a}
    sha_b = {f.path: f.blob_sha for f in files_b}
    return (
        sorted(p for p in sha_b if p not in sha_a),
        sorted(p for p in sha_a if p not in sha_b),
        sorted(p for p in sha_b if p in sha_a and sha_a[p] != sha_b[p]),
    )
