"""Fixtures for the monitoring tests: generated traffic in the prediction-log contract."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from monitoring_helpers import HOUR, NOW, Traffic, features, model  # type: ignore[import-not-found]

from keel.monitoring import MonitoringClient, write_predictions
from keel.store import Store

__all__ = ["HOUR", "NOW", "Traffic", "features", "model"]


@pytest.fixture
def mon(sqlite_store: Store) -> MonitoringClient:
    client = MonitoringClient(sqlite_store)
    rng = np.random.default_rng(0)
    train = features(rng, 5000)
    proba = model(train)
    train["predictions"] = (proba > 0.5).astype(np.int64)
    client.set_reference("model:churn/1", train)
    return client


@pytest.fixture
def send(mon: MonitoringClient) -> Callable[..., Traffic]:
    """Write ``n`` requests spread over ``[start, start + span)`` and return what was sent."""
    counter = iter(range(10**9))

    def _send(
        n: int,
        *,
        start: int = NOW - HOUR,
        span: int = HOUR,
        seed: int = 1,
        deployment: str = "churn",
        flip_city: str | None = None,
        version: str = "1",
        shadow: bool = False,
        latency: float = 2.0,
        ids: list[str] | None = None,
        **kw: Any,
    ) -> Traffic:
        rng = np.random.default_rng(seed)
        f = features(rng, n, **kw)
        proba = model(f)
        pred = (proba > 0.5).astype(np.int64)
        labels = (rng.random(n) < proba).astype(np.int64)
        if flip_city is not None:  # the model is wrong for this cohort
            hit = f["city"] == flip_city
            labels[hit] = 1 - pred[hit]
        request_ids = ids or [f"{deployment}-{seed}-{next(counter)}" for _ in range(n)]
        ts = start + np.sort(rng.integers(0, span, n))
        write_predictions(
            mon.store.settings,
            deployment,
            f,
            {"predictions": pred, "proba": proba},
            model="churn",
            version=version,
            request_ids=request_ids,
            timestamps_ms=ts,
            latency_ms=rng.exponential(latency, n),
            shadow=shadow,
        )
        return Traffic(request_ids, labels, f, proba, pred)

    return _send
