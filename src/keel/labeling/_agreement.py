"""Inter-annotator agreement: Cohen's kappa per annotator pair, Fleiss' kappa, and
Krippendorff's alpha for the project and per label.

Answers come as ``(task_id, annotator, key)`` triples, where ``key`` is one comparable
value per answer (:func:`keel.labeling.answer_key`). Cohen's kappa uses scikit-learn,
Krippendorff's alpha the ``krippendorff`` package (nominal level; it accepts tasks with any
number of answers); Fleiss' kappa is the textbook formula over the tasks that have the
most common number of answers (it assumes the same number of raters per task). A value is
None where it is undefined (fewer than two overlapping answers, or no variation at all).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

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


def _clean(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 6)


def _by_task(triples: Iterable[Triple]) -> dict[int, dict[str, str]]:
    tasks: dict[int, dict[str, str]] = defaultdict(dict)
    for task_id, annotator, key in triples:
        tasks[task_id][annotator] = key
    return {t: a for t, a in tasks.items() if len(a) >= 2}


def cohen_pairs(tasks: dict[int, dict[str, str]]) -> list[PairAgreement]:
    """Cohen's kappa and raw agreement for each pair of annotators who share tasks."""
    from sklearn.metrics import cohen_kappa_score

    shared: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for answers in tasks.values():
        for a, b in combinations(sorted(answers), 2):
            shared[(a, b)].append((answers[a], answers[b]))
    out = []
    for (a, b), pairs in sorted(shared.items()):
        ya, yb = [p[0] for p in pairs], [p[1] for p in pairs]
        percent = sum(x == y for x, y in pairs) / len(pairs)
        kappa: float | None = None
        if len(pairs) >= 2 and len(set(ya) | set(yb)) > 1:
            kappa = _clean(float(cohen_kappa_score(ya, yb)))
        elif len(pairs) >= 2 and percent == 1.0:
            kappa = 1.0  # both always gave the same single label: perfect, if trivial
        out.append(PairAgreement(a, b, len(pairs), kappa, round(percent, 6)))
    return out


def fleiss_kappa(tasks: dict[int, dict[str, str]]) -> float | None:
    """Fleiss' kappa over the tasks with the most common number of answers."""
    if not tasks:
        return None
    n = Counter(len(a) for a in tasks.values()).most_common(1)[0][0]
    rows = [Counter(a.values()) for a in tasks.values() if len(a) == n]
    if len(rows) < 2:
        return None
    categories = sorted({c for row in rows for c in row})
    total = len(rows) * n
    p_j = [sum(row[c] for row in rows) / total for c in categories]
    p_i = [(sum(v * v for v in row.values()) - n) / (n * (n - 1)) for row in rows]
    p_bar, p_e = sum(p_i) / len(p_i), sum(p * p for p in p_j)
    if p_e >= 1.0:
        return 1.0 if p_bar >= 1.0 else None
    return _clean((p_bar - p_e) / (1 - p_e))


def krippendorff_alpha(tasks: dict[int, dict[str, str]]) -> float | None:
    """Krippendorff's alpha (nominal) with the ``krippendorff`` package."""
    import numpy as np

    try:
        import krippendorff
    except ImportError as exc:
        from keel.exceptions import ConfigError

        raise ConfigError(
            "Krippendorff's alpha needs the krippendorff package: pip install 'keel[labeling]'"
        ) from exc

    annotators = sorted({a for answers in tasks.values() for a in answers})
    values = sorted({k for answers in tasks.values() for k in answers.values()})
    if len(tasks) < 2 or len(annotators) < 2:
        return None
    if len(values) < 2:
        return 1.0
    code = {v: float(i) for i, v in enumerate(values)}
    col = {t: j for j, t in enumerate(sorted(tasks))}
    data = np.full((len(annotators), len(tasks)), np.nan)
    row = {a: i for i, a in enumerate(annotators)}
    for task_id, answers in tasks.items():
        for a, key in answers.items():
            data[row[a], col[task_id]] = code[key]
    return _clean(float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")))


def agreement(
    triples: Sequence[Triple], labels: Sequence[str] = (), *, multilabel: bool = False
) -> Agreement:
    """Every agreement measure for ``triples``; ``labels`` adds a one-vs-rest alpha each
    (for multi-label answers the key holds the labels joined by ``|``)."""
    tasks = _by_task(triples)
    pairs = cohen_pairs(tasks)
    agree = sum(p.percent * p.tasks for p in pairs)
    count = sum(p.tasks for p in pairs)
    per_label: dict[str, float | None] = {}
    for label in labels:

        def has(key: str, label: str = label) -> str:
            return str(label in key.split("|")) if multilabel else str(key == label)

        binary = {t: {a: has(k) for a, k in answers.items()} for t, answers in tasks.items()}
        per_label[label] = krippendorff_alpha(binary)
    return Agreement(
        tasks=len(tasks),
        annotators=len({a for answers in tasks.values() for a in answers}),
        percent=round(agree / count, 6) if count else None,
        fleiss_kappa=fleiss_kappa(tasks),
        krippendorff_alpha=krippendorff_alpha(tasks),
        pairs=pairs,
        per_label=per_label,
    )


__all__ = ["Agreement", "PairAgreement", "agreement", "cohen_pairs", "fleiss_kappa"]
