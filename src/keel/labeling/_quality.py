"""Label quality (VR_6): labels that a model's out-of-fold predictions disagree with, found
by cleanlab's ``find_label_issues`` (the ``labeling`` extra; imported on first use)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from keel.exceptions import ConfigError, InvalidArgumentError


@dataclass(frozen=True)
class LabelIssue:
    """One suspect label: its position, the given label, the model's pick and how sure."""

    index: int
    given: str
    suggested: str
    quality: float


def find_label_issues(
    labels: Sequence[str], pred_probs: Any, classes: Sequence[str]
) -> list[LabelIssue]:
    """Suspect labels, worst first. ``pred_probs`` holds out-of-fold probabilities, one
    column per class in ``classes`` order (e.g. from ``cross_val_predict(method=
    "predict_proba")``)."""
    import numpy as np

    try:
        from cleanlab.filter import find_label_issues as _find
        from cleanlab.rank import get_label_quality_scores
    except ImportError as exc:
        raise ConfigError(
            "label-issue detection needs cleanlab: pip install 'keel[labeling]'"
        ) from exc
    probs = np.asarray(pred_probs, dtype=float)
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({lab for lab in labels if lab not in index})
    if unknown:
        raise InvalidArgumentError(f"labels {unknown} are not among the classes {list(classes)}")
    if probs.shape != (len(labels), len(classes)):
        raise InvalidArgumentError(
            f"pred_probs has shape {probs.shape}; expected ({len(labels)}, {len(classes)})"
        )
    given = np.array([index[lab] for lab in labels])
    flagged = _find(labels=given, pred_probs=probs, return_indices_ranked_by="self_confidence")
    scores = get_label_quality_scores(given, probs)
    return [
        LabelIssue(int(i), labels[i], classes[int(np.argmax(probs[i]))], round(float(scores[i]), 6))
        for i in flagged
    ]


__all__ = ["LabelIssue", "find_label_issues"]
