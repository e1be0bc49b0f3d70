"""Inter-annotator agreement: Cohen's kappa per annotator pair, Fleiss' kappa, and
Krippendorff's alpha for the project and per label.

Answers come as ``(task_id, annotator, key)`` triples, where ``key`` is one comparable
value per answer (:func:`keel.labeling.answer_key`); only tasks with two answers or more
count. Every measure is computed from integer-coded arrays with numpy, without a dense
task-by-category matrix (free-text and span answers may have as many distinct keys as
tasks): Krippendorff's alpha (nominal) from the coincidence sums of each task, Fleiss'
kappa over the tasks that have the most common number of answers (the formula assumes the
same number of raters per task), Cohen's kappa from the answers each pair of annotators
gave to the tasks they share. The tests check them against published values and the
``krippendorff`` package. A value is None where it is undefined (fewer than two
overlapping answers, or no variation at all).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Ints = npt.NDArray[np.int64]

Triple = tuple[int, str, str]


@dataclass(frozen=True)
class PairAgreement:
    a: str
    b: str
    tasks: int
    cohen_kappa: float | None
    percent: float


@dataclass(frozen=True)
class Agreement:
    """Agreement of a labeling project (the tasks with two answers or more)."""

    tasks: int
    annotators: int
    percent: float | None
    fleiss_kappa: float | None
    krippendorff_alpha: float | None
    pairs: list[PairAgreement] = field(default_factory=list)
    per_label: dict[str, float | None] = field(default_factory=dict)


def _clean(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 6)


@dataclass(frozen=True)
class Coded:
    """The answers of tasks with two answers or more, as parallel integer arrays sorted by
    task then annotator name: ``unit`` (task index), ``rater`` (index into ``raters``, which
    is sorted) and ``value`` (index into ``values``)."""

    unit: Ints
    rater: Ints
    value: Ints
    raters: list[str]
    values: list[str]
    units: int


def encode(triples: Sequence[Triple]) -> Coded:
    """Code ``triples``; a later answer of the same annotator to a task replaces theirs."""
    import numpy as np  # not pandas: its import alone (~0.3 s) doubled `keel label status`

    empty = np.zeros(0, np.int64)
    if not triples:
        return Coded(empty, empty, empty, [], [], 0)
    tasks = np.fromiter((t[0] for t in triples), np.int64, len(triples))
    _, first, seen = np.unique(tasks, return_index=True, return_inverse=True)
    unit = np.argsort(np.argsort(first))[seen].astype(np.int64)  # first-seen order
    raters, rater = np.unique(np.array([str(t[1]) for t in triples]), return_inverse=True)
    values, value = np.unique(np.array([str(t[2]) for t in triples]), return_inverse=True)
    rater, value = rater.astype(np.int64).ravel(), value.astype(np.int64).ravel()
    _, from_end = np.unique((unit * len(raters) + rater)[::-1], return_index=True)
    latest = np.sort(len(unit) - 1 - from_end)
    unit, rater, value = unit[latest], rater[latest], value[latest]
    keep = np.bincount(unit)[unit] >= 2
    unit, rater, value = unit[keep], rater[keep], value[keep]
    _, unit = np.unique(unit, return_inverse=True)  # renumber the tasks that stay, in order
    used, rater = np.unique(rater, return_inverse=True)  # and the annotators (still sorted)
    order = np.lexsort((rater, unit))
    return Coded(
        unit=unit[order].astype(np.int64),
        rater=rater[order].astype(np.int64),
        value=value[order],
        raters=[str(raters[i]) for i in used.tolist()],
        values=[str(v) for v in values],
        units=int(unit.max()) + 1 if unit.size else 0,
    )


def _sum_squares(unit: Ints, value: Ints, units: int, width: int) -> npt.NDArray[np.float64]:
    """Per task, the sum over categories of (answers in that category) squared."""
    import numpy as np

    keys, counts = np.unique(unit * width + value, return_counts=True)
    squares = np.bincount(keys // width, weights=counts.astype(float) ** 2, minlength=units)
    return squares.astype(np.float64)


def alpha_from_counts(m: npt.NDArray[np.float64], squares: npt.NDArray[np.float64],
                      totals: npt.NDArray[np.float64]) -> float | None:  # fmt: skip
    """Krippendorff's alpha (nominal) from each task's answer count ``m``, its sum of
    squared category counts, and each category's total over the tasks."""
    n = float(m.sum())
    expected = n * n - float((totals**2).sum())
    if expected <= 0:
        return 1.0
    observed = float(((m * m - squares) / (m - 1)).sum())
    return _clean(1.0 - (n - 1) * observed / expected)


def krippendorff_alpha(coded: Coded) -> float | None:
    """Krippendorff's alpha (nominal) over every task with two answers or more."""
    import numpy as np

    if coded.units < 2 or len(coded.raters) < 2:
        return None
    width = max(len(coded.values), 1)
    m = np.bincount(coded.unit, minlength=coded.units).astype(float)
    squares = _sum_squares(coded.unit, coded.value, coded.units, width)
    totals = np.bincount(coded.value, minlength=width).astype(float)
    return alpha_from_counts(m, squares, totals)


def label_alpha(coded: Coded, has: npt.NDArray[np.bool_]) -> float | None:
    """Alpha of the yes/no question "is the answer (or does it contain) this label", where
    ``has[v]`` says so for each coded value ``v``."""
    import numpy as np

    if coded.units < 2 or len(coded.raters) < 2:
        return None
    m = np.bincount(coded.unit, minlength=coded.units).astype(float)
    yes = np.bincount(coded.unit, weights=has[coded.value].astype(float), minlength=coded.units)
    yes = yes.astype(np.float64)
    totals = np.array([yes.sum(), (m - yes).sum()])
    squares = np.asarray(yes * yes + (m - yes) * (m - yes), dtype=np.float64)
    return alpha_from_counts(m, squares, totals)


def fleiss_kappa(coded: Coded) -> float | None:
    """Fleiss' kappa over the tasks with the most common number of answers (ties: the
    count of the first such task)."""
    import numpy as np

    if not coded.units:
        return None
    m = np.bincount(coded.unit, minlength=coded.units)
    freq = np.bincount(m)
    best = np.flatnonzero(freq == freq.max())
    n = int(best[np.argmin([np.argmax(m == b) for b in best])])
    rows = m == n
    if int(rows.sum()) < 2:
        return None
    width = max(len(coded.values), 1)
    squares = _sum_squares(coded.unit, coded.value, coded.units, width)[rows]
    picked = rows[coded.unit]
    p_j = np.bincount(coded.value[picked], minlength=width) / (int(rows.sum()) * n)
    p_bar = float(((squares - n) / (n * (n - 1))).mean())
    p_e = float((p_j**2).sum())
    if p_e >= 1.0:
        return 1.0 if p_bar >= 1.0 else None
    return _clean((p_bar - p_e) / (1 - p_e))


def _pair_marginals(pair: Ints, value: Ints, width: int) -> tuple[Ints, Ints]:
    import numpy as np

    keys, counts = np.unique(pair * width + value, return_counts=True)
    return keys, counts


def cohen_pairs(coded: Coded) -> list[PairAgreement]:
    """Cohen's kappa and raw agreement for each pair of annotators who share tasks."""
    import numpy as np

    u, r, v = coded.unit, coded.rater, coded.value
    n_r, width = len(coded.raters), max(len(coded.values), 1)
    firsts, seconds, same_a, same_b = [], [], [], []
    for gap in range(1, int(np.bincount(u).max()) if u.size else 1):
        both = u[:-gap] == u[gap:]  # sorted by task then rater: the pairs ``gap`` apart
        firsts.append(r[:-gap][both])
        seconds.append(r[gap:][both])
        same_a.append(v[:-gap][both])
        same_b.append(v[gap:][both])
    if not firsts:
        return []
    pair = np.concatenate(firsts) * n_r + np.concatenate(seconds)
    va, vb = np.concatenate(same_a), np.concatenate(same_b)
    ids, pair_idx, shared = np.unique(pair, return_inverse=True, return_counts=True)
    agree = np.bincount(pair_idx, weights=(va == vb).astype(float), minlength=ids.size)
    keys_a, count_a = _pair_marginals(pair_idx, va, width)
    keys_b, count_b = _pair_marginals(pair_idx, vb, width)
    common, ia, ib = np.intersect1d(keys_a, keys_b, assume_unique=True, return_indices=True)
    chance = np.bincount(
        common // width, weights=count_a[ia] * count_b[ib].astype(float), minlength=ids.size
    ) / (shared.astype(float) ** 2)
    distinct = np.bincount(np.unique(np.concatenate([keys_a, keys_b])) // width, minlength=ids.size)
    out = []
    for i, pid in enumerate(ids.tolist()):
        n, po, pe = int(shared[i]), float(agree[i]) / float(shared[i]), float(chance[i])
        kappa: float | None = None
        if n >= 2 and distinct[i] > 1:
            kappa = _clean((po - pe) / (1 - pe)) if pe < 1 else None
        elif n >= 2 and po == 1.0:
            kappa = 1.0  # both always gave the same single label: perfect, if trivial
        a, b = coded.raters[pid // n_r], coded.raters[pid % n_r]
        out.append(PairAgreement(a, b, n, kappa, round(po, 6)))
    return out


def agreement(
    triples: Sequence[Triple], labels: Sequence[str] = (), *, multilabel: bool = False
) -> Agreement:
    """Every agreement measure for ``triples``; ``labels`` adds a one-vs-rest alpha each
    (for multi-label answers the key holds the labels joined by ``|``)."""
    import numpy as np

    coded = encode(triples)
    pairs = cohen_pairs(coded)
    agree = sum(p.percent * p.tasks for p in pairs)
    count = sum(p.tasks for p in pairs)
    per_label: dict[str, float | None] = {}
    for label in labels:
        has = np.array(
            [label in key.split("|") if multilabel else key == label for key in coded.values],
            dtype=bool,
        )
        per_label[label] = label_alpha(coded, has)
    return Agreement(
        tasks=coded.units,
        annotators=len(coded.raters),
        percent=round(agree / count, 6) if count else None,
        fleiss_kappa=fleiss_kappa(coded),
        krippendorff_alpha=krippendorff_alpha(coded),
        pairs=pairs,
        per_label=per_label,
    )


def check_alpha_floor(floor: float, min_tasks: int) -> None:
    """A floor Krippendorff's alpha can fall below (within -1..1), judged on at least one task:
    a floor of 7 would open an alert that no labels could ever resolve."""
    from keel.exceptions import InvalidArgumentError

    if not -1 <= floor <= 1:
        raise InvalidArgumentError(
            f"alpha floor {floor:g} must be between -1 and 1 (Krippendorff's alpha is at most 1)"
        )
    if min_tasks < 1:
        raise InvalidArgumentError(f"min_tasks must be at least 1, got {min_tasks}")


__all__ = [
    "Agreement",
    "Coded",
    "PairAgreement",
    "agreement",
    "check_alpha_floor",
    "cohen_pairs",
    "encode",
    "fleiss_kappa",
    "krippendorff_alpha",
]
