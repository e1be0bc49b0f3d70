"""PyTorch modules: weights in safetensors, code as source, predictions equal training's."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from keel.models import load, save, scan_file

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

NET = """\
import torch


class Net(torch.nn.Module):
    def __init__(self, n_in, hidden=8):
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Linear(n_in, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 2)
        )

    def forward(self, x):
        return torch.softmax(self.body(x), dim=1)
"""


def test_torch_module_round_trip(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "tiny_net.py").write_text(NET)
    sys.path.insert(0, str(tmp_path / "src"))
    try:
        import tiny_net

        torch.manual_seed(0)
        net = tiny_net.Net(4, hidden=16)
        net.eval()
        X = pd.DataFrame(np.random.default_rng(0).random((50, 4)), columns=list("abcd"))
        with torch.no_grad():
            expected = net(torch.from_numpy(X.to_numpy(dtype="float32", copy=True))).numpy()
        manifest = save(
            net, tmp_path / "pkg", input_example=X.head(5), task="classification",
            model_kwargs={"n_in": 4, "hidden": 16},
        )  # fmt: skip
    finally:
        sys.path.remove(str(tmp_path / "src"))
        sys.modules.pop("tiny_net", None)
    assert manifest.flavor == "torch"
    assert {"model.safetensors", "code/tiny_net.py"} <= set(manifest.files)
    assert not scan_file(tmp_path / "pkg" / "model.safetensors").is_pickle_family
    served = load(tmp_path / "pkg", trust="off")
    np.testing.assert_allclose(served.predict_proba(X), expected, rtol=1e-6)
    np.testing.assert_array_equal(served.predict(X), expected.argmax(axis=1))
