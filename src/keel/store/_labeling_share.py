"""A labeling project's double-labelled share: which tasks go to ``overlap`` annotators
when only a share of them should (``labeling_projects.double_share``): in Python
(:func:`doubled`), as SQLAlchemy (:func:`needed`: the queue and undo) and as SQL text
(:func:`needed_sql`: the progress counts), the same rule in all three."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keel.exceptions import InvalidArgumentError

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement

# Which tasks are in a project's double-labelled share: ``(id * STRIDE) % 1000`` is below
# the share in thousandths. STRIDE is prime to 1000, so any 1,000 consecutive ids hit each
# remainder once: exactly the share of them, spread evenly, whatever order tasks come in.
STRIDE = 761
PER_MILLE = 1000


def doubled(task_id: int, share: float | None) -> bool:
    """Whether task ``task_id`` is in the ``share`` (None: every task) labelled ``overlap``
    times; the same rule as the queue's SQL (keel.store.labeling)."""
    return share is None or (task_id * STRIDE) % PER_MILLE < share_per_mille(share)


def share_per_mille(share: float) -> int:
    return round(share * PER_MILLE)


def check_share(overlap: int, double_share: float | None) -> int:
    """The overlap to store: a double share with overlap 1 means two annotators for it."""
    if double_share is None:
        return overlap
    if not 0.0 <= double_share <= 1.0:
        raise InvalidArgumentError(
            f"double share {double_share} must be between 0 and 1 (0.2: a fifth of the tasks "
            "go to several annotators)"
        )
    return max(overlap, 2)


def needed(row: Any) -> Any:
    """``task_id -> annotators it needs`` as SQL, for a project row (id, overlap, share)."""
    from sqlalchemy import case, literal  # the repository's, not the wire format's

    overlap, share = int(row.overlap), row.double_share
    if share is None or overlap == 1:
        return lambda _task_id: literal(overlap)

    def need(task_id: Any) -> ColumnElement[int]:
        picked = (task_id * STRIDE) % PER_MILLE < share_per_mille(float(share))
        return case((picked, literal(overlap)), else_=literal(1))

    return need


def needed_sql(row: Any, task_id: str) -> tuple[str, tuple[int, ...]]:
    """:func:`needed` as driver-level SQL text over the column ``task_id``, and its
    parameters (the progress counts read without building SQLAlchemy statements)."""
    overlap, share = int(row.overlap), row.double_share
    if share is None or overlap == 1:
        return "?", (overlap,)
    picked = f"({task_id} * {STRIDE}) % {PER_MILLE} < ?"
    return f"CASE WHEN {picked} THEN ? ELSE 1 END", (share_per_mille(float(share)), overlap)


__all__ = [
    "PER_MILLE",
    "STRIDE",
    "check_share",
    "doubled",
    "needed",
    "needed_sql",
    "share_per_mille",
]
