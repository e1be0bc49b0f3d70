"""Champion vs challenger on the same (shadow) or split traffic, with labels arriving."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from monitoring_helpers import NOW, Traffic

from keel.exceptions import InvalidArgumentError
from keel.monitoring import MonitoringClient, write_predictions


def _shadow(mon: MonitoringClient, t: Traffic, *, accuracy_boost: float, latency: float) -> None:
    """The challenger answered the same requests: better (or worse) by ``accuracy_boost``."""
    rng = np.random.default_rng(99)
    pred = t.pred.copy()
    n = len(pred)
    if accuracy_boost > 0:  # fix some of the champion's mistakes
        wrong = np.flatnonzero(pred != t.labels)
        fix = rng.choice(wrong, int(accuracy_boost * n), replace=False)
        pred[fix] = t.labels[fix]
    else:  # break some right answers
        right = np.flatnonzero(pred == t.labels)
        hit = rng.choice(right, int(-accuracy_boost * n), replace=False)
        pred[hit] = 1 - t.labels[hit]
    write_predictions(
        mon.store.settings,
        "churn",
        t.features,
        {"predictions": pred, "proba": t.proba},
        model="churn",
        version="2",
        request_ids=t.ids,
        timestamps_ms=np.full(n, NOW - 1000),
        latency_ms=latency,
        shadow=True,
    )


@pytest.mark.parametrize(
    ("boost", "latency", "verdict"),
    [(0.05, 2.0, "promote"), (-0.05, 2.0, "keep_champion"), (0.05, 50.0, "inconclusive")],
)
def test_shadow_comparison_recommends(
    mon: MonitoringClient, send: Callable[..., Traffic], boost: float, latency: float, verdict: str
) -> None:
    t = send(3000, latency=2.0)
    _shadow(mon, t, accuracy_boost=boost, latency=latency)
    mon.record_feedback("churn", {"request_id": t.ids, "label": t.labels})
    result = mon.champion_challenger("churn", window="1d", end_ms=NOW)
    assert (result.mode, result.champion.version, result.challenger.version) == ("shadow", "1", "2")
    assert result.common_rows == 3000
    assert result.agreement == pytest.approx(1 - abs(boost), abs=0.002)
    assert result.difference == pytest.approx(boost, abs=0.002)
    assert result.ci_low is not None and result.ci_low < boost < (result.ci_high or 0)
    assert result.recommendation == verdict and result.allows_promotion is (verdict == "promote")


def test_without_labels_it_is_inconclusive_but_reports_agreement(
    mon: MonitoringClient, send: Callable[..., Traffic]
) -> None:
    t = send(500)
    _shadow(mon, t, accuracy_boost=0.02, latency=2.0)
    result = mon.champion_challenger("churn", window="1d", end_ms=NOW)
    assert result.agreement == pytest.approx(0.98, abs=0.005)
    assert result.recommendation == "inconclusive" and "labelled rows" in result.reasons[-1]


def test_split_traffic_is_compared_unpaired(
    mon: MonitoringClient, send: Callable[..., Traffic]
) -> None:
    a = send(3000, version="1", seed=1)
    b = send(3000, version="2", seed=2)
    labels = np.concatenate([a.labels, b.labels])
    mon.record_feedback("churn", {"request_id": a.ids + b.ids, "label": labels})
    result = mon.champion_challenger("churn", champion="1", challenger="2", window="1d", end_ms=NOW)
    assert result.mode == "split" and result.agreement is None
    assert result.ci_low is not None and result.ci_low < 0 < (result.ci_high or 0)  # same model
    assert result.champion.labelled == 3000


def test_needs_two_versions(mon: MonitoringClient, send: Callable[..., Traffic]) -> None:
    send(10)
    with pytest.raises(InvalidArgumentError, match="need two versions"):
        mon.champion_challenger("churn", window="1d", end_ms=NOW)
    with pytest.raises(InvalidArgumentError, match="version '9' has no predictions"):
        mon.champion_challenger("churn", challenger="9", window="1d", end_ms=NOW)
