"""`keel datasets diff --drift` runs the monitoring drift engine on two dataset versions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

import keel

if TYPE_CHECKING:
    from tests.conftest import KeelCli


def test_diff_with_drift_flags_shifted_columns_only(keel_home: Path, run_keel: KeelCli) -> None:
    keel.init(home=keel_home)
    rng = np.random.default_rng(7)
    n = 4000
    before = pd.DataFrame({"shifted": rng.normal(size=n), "stable": rng.normal(size=n)})
    after = pd.DataFrame({"shifted": rng.normal(0.6, 1, size=n), "stable": rng.normal(size=n)})
    keel.log_dataset("sensor", before)
    keel.log_dataset("sensor", after)
    out = json.loads(
        run_keel("datasets", "diff", "sensor@1", "sensor@2", "--drift", "--json").stdout
    )
    assert out["drift"]["drifted_columns"] == ["shifted"]
    stable = next(f for f in out["drift"]["features"] if f["column"] == "stable")
    assert stable["status"] != "drift" and stable["p_adjusted"] > 0.05
