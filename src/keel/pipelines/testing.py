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
from keel.tracking import TrackingClient
from keel.tracking._active import using_client


@contextmanager
def isolated_store(path: str | Path | None = None, *, project: str = "default") -> Iterator[Store]:
    """A fresh embedded store (in ``path``, or a temporary folder removed afterwards) that
    everything in the block uses: pipelines and their step runs, ``keel.start_run``,
    ``keel.log_dataset``, ``keel.log_model`` and the registry, and the blobs behind them."""
    temp = path is None
    home = Path(tempfile.mkdtemp(prefix="keel-test-")) if path is None else Path(path)
    store = open_store(Settings.for_home(home, project=project))
    try:
        with using_store(store, project), using_client(TrackingClient(store, project)):
            yield store
    finally:
        store.close()
        if temp:
            shutil.rmtree(home, ignore_errors=True)


__all__ = ["isolated_store"]
