"""Large package files are loaded from a private copy hashed while it was written, so a
file changed after verification never reaches its loader (issue 13: no check-then-use gap)."""

from __future__ import annotations

import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.neighbors import KNeighborsClassifier

from keel.exceptions import TamperedModelError
from keel.models import Keyring, load, save
from keel.models._flavor_base import LoadOptions
from keel.models._flavors import flavor_named
from keel.models._manifest import MANIFEST_FILE, Manifest
from keel.models._verify import KEEP_IN_MEMORY_BYTES, verify_package

ROWS, COLS = 230_000, 20  # ~37 MB of training data kept inside the model file


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Keyring, Any, Any]]:
    root = tmp_path_factory.mktemp("big")
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(ROWS, COLS)), columns=[f"f{i}" for i in range(COLS)])
    y = (X.f0 > 0).astype(int)
    model = KNeighborsClassifier(n_neighbors=3, algorithm="brute").fit(X, y)
    keyring = Keyring(root / "keys")
    keyring.generate("me")
    folder = root / "pkg"
    save(model, folder, input_example=X.head(5), keyring=keyring, onnx=False)
    yield folder, keyring, model, X.head(7)


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    where = tmp_path / "tmp"
    where.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(where))
    return where


def _model_file(folder: Path) -> str:
    manifest = Manifest.from_yaml((folder / MANIFEST_FILE).read_bytes())
    return str(manifest.flavors[manifest.serve_flavor]["file"])


def test_a_large_file_is_loaded_from_its_verified_private_copy(
    big: tuple[Path, Keyring, Any, Any], private_tmp: Path, tmp_path: Path
) -> None:
    folder, keyring, model, rows = big
    name = _model_file(folder)
    original = (folder / name).read_bytes()
    assert len(original) > KEEP_IN_MEMORY_BYTES
    verified = verify_package(folder, keyring=keyring, keep=lambda m: [name])
    try:
        copy = verified.copies[name]
        assert name not in verified.contents  # not held in memory
        assert copy.read_bytes() == original
        assert stat.S_IMODE(copy.parent.stat().st_mode) == 0o700
        # the package's file is swapped after verification: the loader still gets the
        # verified bytes (the swap here stands for a writer racing the load)
        swapped = folder.parent / "swapped"
        swapped.write_bytes(original[:-64] + b"\0" * 64)
        backup = folder.parent / "backup"
        (folder / name).rename(backup)
        swapped.rename(folder / name)
        try:
            config = verified.manifest.flavors[verified.manifest.serve_flavor]
            options = LoadOptions(copies=verified.copies)
            backend = flavor_named(verified.manifest.serve_flavor).load(folder, config, options)
            assert list(backend.predict(rows)) == list(model.predict(rows))
        finally:
            (folder / name).unlink()
            backup.rename(folder / name)
    finally:
        verified.discard_copies()
    assert not copy.parent.exists()


def test_load_leaves_no_private_copy_and_refuses_a_changed_large_file(
    big: tuple[Path, Keyring, Any, Any], private_tmp: Path
) -> None:
    folder, keyring, model, rows = big
    assert list(load(folder, keyring=keyring).predict(rows)) == list(model.predict(rows))
    assert list(private_tmp.iterdir()) == []  # the copy is gone once loaded
    name = _model_file(folder)
    path = folder / name
    original = path.read_bytes()
    try:
        path.write_bytes(original[:100] + bytes([original[100] ^ 1]) + original[101:])
        with pytest.raises(TamperedModelError, match=name):
            load(folder, keyring=keyring)
    finally:
        path.write_bytes(original)
    assert list(private_tmp.iterdir()) == []  # and none after a refusal either
