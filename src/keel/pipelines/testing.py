"""Helpers for running the real pipeline in tests::

from keel.pipelines.testing import isolated_store

def test_training_pipeline():
    with isolated_store():
        model = train(lr=0.5)          # the exact DAG, cache and retries of production
    assert model.score(...) > 0.9
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from keel.config import Settings
from keel.pipelines._pipeline import using_store
from keel.store import Store, open_store


@contextmanager
def isolated_store(path: str | Path | None = None, *, project: str = "default") -> Iterator[Store]:
    """A fresh embedded store (in ``path``, or a temporary folder removed afterwards) that
    pipelines called inside the block run against."""
    temp = path is None
    home = Path(tempfile.mkdtemp(prefix="keel-test-")) if path is None else Path(path)
    store = open_store(Settings.for_home(home, project=project))
    try:
        with using_store(store, project):
            yield store
    finally:
        store.close()
        if temp:
            shutil.rmtree(home, ignore_errors=True)


__all__ = ["isolated_store"]
