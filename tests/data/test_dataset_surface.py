"""keel.data's public names are deliberate, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import keel.data


def test_data_surface_is_pinned() -> None:
    assert set(keel.data.__all__) == {
        "RACY_WINDOW_NS", "DatasetClient", "DatasetDiff", "DatasetRef", "DiffThresholds",
        "FolderStatus", "HashState", "ProgressFn", "Retyped", "SqlQuery", "StatChange",
        "file_hashes", "manifest_hash", "parse_ref", "quick_status",
        "FeatureTable", "PredictionFeatures", "TrainingSet", "training_set",
        "Exploration", "explore",
        "PrivacyGate", "PrivacyGateError", "SynthModel", "SyntheticData",
        "synth_fit", "synth_sample",
    }  # fmt: skip
    for name in keel.data.__all__:
        assert getattr(keel.data, name) is not None, name


def test_importing_keel_data_is_light() -> None:
    code = (
        "import sys, keel.data, keel.data._quick\n"
        "print([m for m in ('pandas', 'pyarrow', 'sqlalchemy', 'keel.store') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
