"""Generated traffic for a churn-like classifier, shared by the monitoring tests."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

HOUR = 3_600_000
NOW = (int(time.time() * 1000) // HOUR) * HOUR  # a whole hour, so windows line up


@dataclass
class Traffic:
    ids: list[str]
    labels: np.ndarray
    features: dict[str, np.ndarray]
    proba: np.ndarray
    pred: np.ndarray


def features(
    rng: np.random.Generator,
    n: int,
    *,
    age_shift: float = 0.0,
    cities: tuple[str, ...] = ("oslo", "rome", "lima"),
) -> dict[str, np.ndarray]:
    return {
        "age": rng.normal(40 + age_shift, 10, n),
        "income": rng.lognormal(10, 0.5, n),
        "city": rng.choice(list(cities), n),
    }


def model(f: dict[str, np.ndarray]) -> np.ndarray:
    """P(churn): a fixed logistic model of age and income."""
    z = (f["age"] - 40) / 4 - (np.log(f["income"]) - 10) * 3
    return 1 / (1 + np.exp(-z))
