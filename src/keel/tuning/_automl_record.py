"""How an AutoML search is recorded: candidate runs, the leaderboard, the card, the winner."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from keel.tuning._automl_search import Candidate, Clock

if TYPE_CHECKING:
    import pandas as pd

    from keel.tracking import ActiveRun


@dataclass(frozen=True)
class LeaderboardRow:
    rank: int
    number: int
    family: str
    cv_score: float
    fit_seconds: float
    params: dict[str, Any]
    run_id: str | None
    in_ensemble: int = 0  # the candidate's weight in the winning ensemble


def leaderboard(
    candidates: list[Candidate], runs: dict[int, str], weights: dict[int, int], scorer: Any
) -> list[LeaderboardRow]:
    """Best first; ``cv_score`` in the metric's own units (a loss is positive)."""
    ranked = sorted(candidates, key=lambda c: c.score, reverse=True)
    return [
        LeaderboardRow(
            rank=i,
            number=c.number,
            family=c.family,
            cv_score=scorer.display(c.score),
            fit_seconds=round(c.fit_seconds, 3),
            params=_plain(c.config),
            run_id=runs.get(c.number),
            in_ensemble=weights.get(c.number, 0),
        )
        for i, c in enumerate(ranked, 1)
    ]


def _plain(config: dict[str, Any]) -> dict[str, Any]:
    return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in config.items()}


def log_candidate(parent: ActiveRun, experiment: str, cand: Candidate, scorer: Any) -> str:
    from keel.tracking import start_run

    with start_run(
        f"{cand.family}-{cand.number}",
        experiment=experiment,
        parent=parent,
        capture_env=False,
        tags={"keel.automl": "candidate", "keel.automl.family": cand.family},
    ) as run:
        run.log_params({"family": cand.family, **_plain(cand.config)})
        value = scorer.display(cand.score) if np.isfinite(cand.score) else float("nan")
        run.log_metrics({f"cv_{scorer.name}": value, "fit_seconds": cand.fit_seconds})
    return run.id


def card(
    board: list[LeaderboardRow],
    metric: str,
    clock: Clock,
    data: str,
    task: str,
    cv: float,
    test: float,
    notes: list[str],
    weights: dict[int, int],
) -> dict[str, Any]:
    from keel.tuning._automl_prep import METRICS

    shown = METRICS[metric]
    return {
        "automl": {
            "task": task,
            "metric": metric,
            "budget_s": clock.budget_s,
            "data": data,
            "cv_score": shown.display(cv),
            "test_score": shown.display(test),
            "ensemble": {str(n): w for n, w in weights.items()},
            "leaderboard": [
                {
                    "rank": r.rank,
                    "family": r.family,
                    "cv_score": r.cv_score,
                    "fit_seconds": r.fit_seconds,
                    "params": r.params,
                    "run_id": r.run_id,
                    "weight": r.in_ensemble,
                }
                for r in board[:20]
            ],
            "notes": notes,
        }
    }


def log_winner(
    model: Any,
    X_tr: pd.DataFrame,
    name: str,
    card: dict[str, Any],
    parent: ActiveRun,
    task: str,
    onnx: bool = True,
) -> Any:
    from keel.models import log_model

    return log_model(
        model,
        "model",
        input_example=X_tr.head(20),
        registered_model_name=name,
        run=parent,
        card=card,
        task="regression" if task == "regression" else "classification",
        parity_rows=X_tr.head(50),
        onnx="auto" if onnx else False,
    )


def note(
    board: list[LeaderboardRow], metric: str, data: str, cv: float, test: float, budget: float
) -> str:
    from keel.tuning._automl_prep import METRICS

    shown = METRICS[metric]
    lines = [
        f"AutoML on `{data}` for {budget:g}s: cross-validated {metric} "
        f"{shown.display(cv):.4f}, held-out test {shown.display(test):.4f}.",
        "",
        "| rank | family | cv | weight |",
        "|---|---|---|---|",
    ]
    lines += [f"| {r.rank} | {r.family} | {r.cv_score:.4f} | {r.in_ensemble} |" for r in board[:10]]
    return "\n".join(lines)


__all__ = ["LeaderboardRow", "card", "leaderboard", "log_candidate", "log_winner", "note"]
