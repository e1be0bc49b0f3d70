"""Helpers shared by the serving tests (imported as ``serving_helpers``)."""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from keel.config import Settings

FEATURES = [f"f{i}" for i in range(20)]


class Proba:
    """The fitted pipeline's positive-class probability."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, df: pd.DataFrame) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self.model.predict_proba(df)[:, 1]


class Constant:
    """Answers its own version number for every row (to see which version answered)."""

    def __init__(self, value: float, delay_s: float = 0.0) -> None:
        self.value = value
        self.delay_s = delay_s
        self.calls: list[int] = []

    def predict(self, df: pd.DataFrame) -> Any:
        self.calls.append(len(df))
        if self.delay_s:
            time.sleep(self.delay_s)
        return np.full(len(df), self.value)


def spec(*versions: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A one-endpoint spec named ``test`` serving ``churn``."""
    endpoint: dict[str, Any] = {"name": "churn", "versions": list(versions)}
    for key in ("resources", "batching", "route_key", "transforms"):
        if key in extra:
            endpoint[key] = extra.pop(key)
    return {"name": "test", "endpoints": [endpoint], "poll_s": extra.pop("poll_s", 0.2), **extra}


def split_body(rows: pd.DataFrame) -> dict[str, Any]:
    return {"dataframe_split": {"columns": list(rows.columns), "data": rows.values.tolist()}}


def keel_env(settings: Settings) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("KEEL_") or k.startswith("KEEL_TEST_")
    }
    env["KEEL_HOME"] = str(settings.home)
    env["PYTHONWARNINGS"] = "ignore"
    return env


def wait_for(check: Callable[[], Any], timeout_s: float = 20.0, every_s: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        time.sleep(every_s)


def parquet_rows(root: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(p).num_rows for p in root.rglob("*.parquet"))


def add_ratio(df: pd.DataFrame) -> pd.DataFrame:
    """A pre step (as a pipeline would declare it): derive the model's f19 from raw columns."""
    out = df.drop(columns=["raw_a", "raw_b"])
    out["f19"] = df["raw_a"] / df["raw_b"]
    return out


add_ratio.input_schema = {  # type: ignore[attr-defined]
    **{f"f{i}": "float" for i in range(19)},
    "raw_a": "float",
    "raw_b": "float",
}


def to_label(output: Any, frame: pd.DataFrame) -> dict[str, Any]:
    """A post step that sees the model output and the transformed frame."""
    proba = np.asarray(output)
    return {"label": np.where(proba >= 0.5, "yes", "no"), "f19": frame["f19"].to_numpy()}
