"""Objects print well: what the SDK returns has a one-line repr that names it, not a 5 KB dump."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sklearn.linear_model import LogisticRegression

import keel
from keel.store.entities import Project


def test_what_the_sdk_returns_prints_in_one_short_line(tmp_path: Path) -> None:
    keel.init(home=tmp_path / "keel-home")
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0] * 25, "b": [0, 1, 0, 1] * 25})
    with keel.start_run(experiment="reprs", capture_env=False) as run:
        run.log_params({"C": 1.0, "penalty": "l2"})
        run.log_metrics({"auc": 0.912345678, "loss": 0.25, "f1": 0.8, "acc": 0.9, "ll": 0.3})
        version = keel.log_dataset("tiny", df)
        model = LogisticRegression().fit(df[["a"]], df.b)
        info = keel.log_model(
            model, "model", input_example=df[["a"]].head(), registered_model_name="tiny-model"
        )
    stored = keel.get_run(run.id)
    assert info.version is not None
    shown = {
        "dataset": (repr(version), ["tiny@1", "100 rows x 2 columns", version.content_hash[:12]]),
        "model": (repr(info), ["tiny-model@1", "sklearn", "1 inputs → prediction"]),
        "manifest": (repr(info.manifest), ["'tiny-model'", "sklearn"]),
        "version": (repr(info.version), ["tiny-model@1", "classification", "signed by"]),
        "signature": (repr(info.manifest.signature), ["a: double", "prediction"]),
        "run": (repr(stored), [stored.name, run.id[:8], "FINISHED", "2 params", "auc: 0.9123"]),
        "info": (repr(stored.info), [stored.name, "FINISHED"]),
    }
    for what, (text, parts) in shown.items():
        assert "\n" not in text and len(text) < 160, f"{what}: {text}"
        for part in parts:
            assert part in text, f"{what}: {part!r} not in {text}"
    assert "…+1" in repr(stored)  # five metrics: four shown, the rest counted
    assert (
        repr(Project(id=3, name="churn", description="", created_at=0)) == "Project('churn', id=3)"
    )
