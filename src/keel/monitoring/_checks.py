"""Schema checks: the shape of the data changed, reported from the very first batch.

New, missing or retyped columns; categories never seen in the reference; missing values
jumping; values outside the reference range. No statistics needed, so one row is enough.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from keel.monitoring._columns import logical_type
from keel.monitoring._config import DriftConfig
from keel.monitoring._profile import (
    CategoricalProfile,
    ColumnProfile,
    DatasetProfile,
    NumericProfile,
)
from keel.monitoring._rebin import aligned_counts

ERROR, WARNING = "error", "warning"
MAX_EXAMPLES = 10


@dataclass(frozen=True, slots=True)
class SchemaIssue:
    """One change of shape: ``kind`` is new_column, missing_column, retyped_column,
    unseen_categories, null_rate_jump or out_of_range."""

    kind: str
    column: str
    severity: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)


def schema_issues(
    reference: DatasetProfile, current: DatasetProfile, config: DriftConfig
) -> list[SchemaIssue]:
    ignored = set(config.ignore_columns)
    issues: list[SchemaIssue] = []
    for name, col in current.columns.items():
        if name not in reference.columns and name not in ignored:
            issues.append(
                SchemaIssue(
                    "new_column",
                    name,
                    WARNING,
                    f"column {name!r} ({col.dtype}) is not in the reference",
                    {"dtype": col.dtype},
                )
            )
    for name, ref in reference.columns.items():
        if name in ignored:
            continue
        cur = current.columns.get(name)
        if cur is None:
            issues.append(
                SchemaIssue(
                    "missing_column",
                    name,
                    ERROR,
                    f"column {name!r} ({ref.dtype}) is missing",
                    {"dtype": ref.dtype},
                )
            )
            continue
        issues.extend(_column_issues(ref, cur, config))
    return issues


def _column_issues(
    ref: ColumnProfile, cur: ColumnProfile, config: DriftConfig
) -> list[SchemaIssue]:
    out: list[SchemaIssue] = []
    if logical_type(ref.dtype) != logical_type(cur.dtype):
        severity = ERROR if ref.kind != cur.kind else WARNING
        out.append(
            SchemaIssue(
                "retyped_column",
                ref.name,
                severity,
                f"column {ref.name!r} was {ref.dtype} and is now {cur.dtype}",
                {"before": ref.dtype, "after": cur.dtype},
            )
        )
    null_issue = _null_jump(ref, cur, config.null_rate_increase)
    if null_issue is not None:
        out.append(null_issue)
    if isinstance(ref, NumericProfile) and isinstance(cur, NumericProfile):
        out.extend(_out_of_range(ref, cur, config.out_of_range_share))
    if isinstance(ref, CategoricalProfile) and isinstance(cur, CategoricalProfile):
        out.extend(_unseen(ref, cur))
    return out


def _null_jump(ref: ColumnProfile, cur: ColumnProfile, increase: float) -> SchemaIssue | None:
    before, after = ref.null_rate, cur.null_rate
    total = cur.count + cur.nulls
    if total == 0 or cur.nulls == 0:
        return None
    evidence = {"before": before, "after": after, "missing": cur.nulls, "rows": total}
    if cur.count == 0 and ref.count > 0:
        return SchemaIssue(
            "null_rate_jump",
            ref.name,
            ERROR,
            f"column {ref.name!r} is entirely missing now ({before:.1%} missing in the reference)",
            evidence,
        )
    if ref.nulls == 0:
        return SchemaIssue(
            "null_rate_jump",
            ref.name,
            WARNING,
            f"column {ref.name!r} had no missing values in the reference; "
            f"now {cur.nulls} of {total} ({after:.1%})",
            evidence,
        )
    if after - before >= increase:
        return SchemaIssue(
            "null_rate_jump",
            ref.name,
            WARNING,
            f"missing values in {ref.name!r} rose from {before:.1%} to {after:.1%}",
            evidence,
        )
    return None


def _out_of_range(
    ref: NumericProfile, cur: NumericProfile, share_floor: float
) -> list[SchemaIssue]:
    if ref.count == 0 or cur.count == 0 or ref.min is None or ref.max is None:
        return []
    counts = aligned_counts(ref, cur)
    below, above = int(counts[0]), int(counts[-1])
    outside = below + above
    share = outside / cur.count
    # Even data like the reference falls outside its range with chance ~2/(n+1); flag only
    # what clearly exceeds that plus the allowed share (3 sigma), so one row can still alert.
    p0 = min(1.0, share_floor + 2.0 / (ref.count + 1))
    limit = cur.count * p0 + 3.0 * math.sqrt(cur.count * p0 * (1.0 - p0))
    if outside == 0 or outside <= limit:
        return []
    evidence = {
        "below": below,
        "above": above,
        "share": share,
        "reference_min": ref.min,
        "reference_max": ref.max,
        "current_min": cur.min,
        "current_max": cur.max,
    }
    message = (
        f"{outside} of {cur.count} values of {ref.name!r} ({share:.1%}) are outside the "
        f"reference range [{ref.min:.6g}, {ref.max:.6g}] (now [{cur.min:.6g}, {cur.max:.6g}])"
    )
    return [SchemaIssue("out_of_range", ref.name, WARNING, message, evidence)]


def _unseen(ref: CategoricalProfile, cur: CategoricalProfile) -> list[SchemaIssue]:
    if ref.other > 0 or ref.count == 0:
        return []  # the reference kept only its most frequent values: "unseen" is unknowable
    unseen = {k: v for k, v in cur.categories.items() if k not in ref.categories}
    if not unseen:
        return []
    count = sum(unseen.values())
    examples = dict(sorted(unseen.items(), key=lambda kv: -kv[1])[:MAX_EXAMPLES])
    share = count / cur.count if cur.count else 0.0
    names = ", ".join(repr(k) for k in examples)
    message = (
        f"{len(unseen)} value(s) of {ref.name!r} never seen in the reference: {names} "
        f"({count} rows, {share:.1%})"
    )
    evidence = {"values": examples, "rows": count, "share": share, "distinct": len(unseen)}
    return [SchemaIssue("unseen_categories", ref.name, WARNING, message, evidence)]
