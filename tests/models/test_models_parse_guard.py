"""A wall-clock limit on third-party model parsers (issue 13): a file that makes the
parser hang is refused after the limit, and the parser's process is gone."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import psutil
import pytest

from keel.exceptions import UnsafeModelError
from keel.models._parse_guard import parse_within_deadline


def _guard_children() -> list[psutil.Process]:
    out = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "keel.models._parse_guard" in " ".join(child.cmdline()):
                out.append(child)
        except psutil.NoSuchProcess:
            continue
    return out


def test_a_parser_that_hangs_is_stopped_and_the_file_refused(tmp_path: Path) -> None:
    # A model file whose reading never ends: a FIFO nobody writes to blocks the parser's
    # child for good, as a hanging parser would. (A NUL-padded LightGBM text model hung
    # older LightGBM releases; 4.7 refuses it at once, so it cannot stand in for a hang.)
    fifo = tmp_path / "model.txt"
    os.mkfifo(fifo)
    with pytest.raises(UnsafeModelError, match=r"model\.txt: the lightgbm parser did not finish"):
        parse_within_deadline("lightgbm", fifo, label="model.txt", timeout_s=2)
    assert _guard_children() == []  # killed, not left blocked


def test_good_files_pass_and_ordinary_rejections_are_left_to_the_load() -> None:
    lgb = pytest.importorskip("lightgbm")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_threads": 1},
        lgb.Dataset(X, (X[:, 0] > 0).astype(int)),
        num_boost_round=3,
    )
    text = booster.model_to_string().encode()
    parse_within_deadline("lightgbm", text, label="model.txt", timeout_s=60)
    parse_within_deadline("lightgbm", text, label="model.txt", timeout_s=0.001)  # remembered
    # bytes ONNX Runtime refuses with an error: not this check's business (the load says why)
    parse_within_deadline("onnx", b"not an onnx model", label="model.onnx", timeout_s=60)
    with pytest.raises(ValueError, match="no parser check"):
        parse_within_deadline("pickle", b"", label="x", timeout_s=1)
