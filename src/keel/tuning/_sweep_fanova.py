"""fANOVA parameter importances of a sweep: fitted once a sweep has finished, kept on its run.

Fitting fANOVA's random forest takes a second and importing scikit-learn for it several
more, so ``keel sweep show`` does not fit it on every call. The first report of a finished
sweep fits it over the completed trials and keeps it as the :data:`TAG` tag of the sweep's
run, with the number of completed trials it covers; later reports read it while that
number is current (finished trials never change). It is not fitted when the sweep ends:
that would add its second to every sweep, also to those nobody looks at. A sweep that is
still running shows main effects (:mod:`keel.tuning._sweep_importance`, milliseconds)
unless fANOVA is asked for.
"""

from __future__ import annotations

import json
from typing import Any

TAG = "keel.sweep.importances"

#: fANOVA fits a random forest: past this many completed trials it reads an even sample.
MAX_TRIALS = 200


def even(items: list[Any], most: int) -> list[Any]:
    """At most ``most`` of ``items``, evenly spaced (all of them when there are fewer)."""
    if len(items) <= most:
        return list(items)
    stride = len(items) / most
    return [items[int(i * stride)] for i in range(most)]


def stored(run_tags: dict[str, str], completed: int) -> dict[str, float] | None:
    """The kept fANOVA importances when they cover ``completed`` trials, else None."""
    try:
        data = json.loads(run_tags.get(TAG) or "{}")
        if data.get("trials") != completed:
            return None
        return {str(k): float(v) for k, v in data["fanova"].items()}
    except (ValueError, TypeError, KeyError, AttributeError):
        return None  # not kept, or by something else: compute again


def tags(found: dict[str, float], completed: int) -> dict[str, str]:
    """The run tag that keeps ``found`` (importances over ``completed`` trials)."""
    return {TAG: json.dumps({"trials": completed, "fanova": found})}


def fanova(directions: list[str], sample: list[Any]) -> tuple[dict[str, float], str]:
    """fANOVA importances of the first objective over the trials ``sample`` (and "" or, when
    Optuna cannot compute them, {} and why)."""
    import optuna
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances
    from optuna.study import StudyDirection

    from keel.tuning._sweep_storage import frozen

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    copy = optuna.create_study(directions=[StudyDirection[d.upper()] for d in directions])
    copy.add_trials([frozen(t) for t in sample])
    try:
        found = get_param_importances(
            copy, evaluator=FanovaImportanceEvaluator(seed=0), target=lambda t: t.values[0]
        )
    except (RuntimeError, ValueError) as exc:
        return {}, f"importances unavailable: {exc}"
    return {k: float(v) for k, v in found.items()}, ""


__all__ = ["MAX_TRIALS", "TAG", "even", "fanova", "stored", "tags"]
