"""Fingerprints: a short, stable hash of a value, used in step cache keys.

:func:`fingerprint` is a ``functools.singledispatch`` function, so supporting a new type is
one registration::

    @keel.pipelines.fingerprint.register(MyFrame)
    def _(value: MyFrame) -> str:
        return hash_bytes(value.to_bytes())

Built in: JSON-like values, bytes, paths (files and folders by content, through the
machine-local hash cache so unchanged files are not read again), pandas objects, numpy
arrays, Arrow tables, keel dataset versions and fitted scikit-learn models. Heavy libraries
are registered lazily, the first time one of their values is seen.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from keel.exceptions import InvalidArgumentError
from keel.pipelines._filehash import ContentHasher, default_hasher
from keel.store.entities import DatasetVersion

_HASHER: ContextVar[ContentHasher | None] = ContextVar("keel_content_hasher", default=None)


def hash_bytes(data: bytes, tag: str = "") -> str:
    return hashlib.sha256(tag.encode() + b"\0" + data).hexdigest()


def _combine(tag: str, parts: list[str]) -> str:
    return hash_bytes("\n".join(parts).encode(), tag)


@contextmanager
def using_hasher(hasher: ContentHasher) -> Iterator[None]:
    """Fingerprint files and folders through ``hasher`` (the run's hash cache) in this block."""
    token = _HASHER.set(hasher)
    try:
        yield
    finally:
        _HASHER.reset(token)


@functools.singledispatch
def fingerprint(value: object) -> str:
    """A sha256 hex digest that changes when ``value``'s content changes."""
    handler = _lazy_handler(type(value))
    if handler is not None:
        return handler(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return _combine(_qualname(type(value)), [fingerprint(fields)])
    raise InvalidArgumentError(
        f"keel cannot fingerprint a value of type {_qualname(type(value))}; register one with "
        f"@keel.pipelines.fingerprint.register({type(value).__name__}), pass a plain value "
        "instead, or produce it inside a step"
    )


@fingerprint.register(type(None))
@fingerprint.register(bool)
@fingerprint.register(int)
@fingerprint.register(str)
def _scalar(value: Any) -> str:
    return hash_bytes(json.dumps(value).encode(), type(value).__name__)


@fingerprint.register(float)
def _float(value: float) -> str:
    text = "nan" if math.isnan(value) else repr(value)
    return hash_bytes(text.encode(), "float")


@fingerprint.register(bytes)
def _bytes(value: bytes) -> str:
    return hash_bytes(value, "bytes")


@fingerprint.register(list)
@fingerprint.register(tuple)
def _sequence(value: list[Any] | tuple[Any, ...]) -> str:
    return _combine(type(value).__name__, [fingerprint(v) for v in value])


@fingerprint.register(set)
@fingerprint.register(frozenset)
def _set(value: set[Any] | frozenset[Any]) -> str:
    return _combine("set", sorted(fingerprint(v) for v in value))


@fingerprint.register(dict)
def _dict(value: dict[Any, Any]) -> str:
    items = sorted((fingerprint(k), fingerprint(v)) for k, v in value.items())
    return _combine("dict", [f"{k}:{v}" for k, v in items])


@fingerprint.register(Path)
def _path(value: Path) -> str:
    hasher = _HASHER.get() or default_hasher()
    if value.is_dir():
        return hash_bytes(hasher.hash_folder(value).encode(), "folder")
    if value.is_file():
        return hash_bytes(hasher.hash_file(value).encode(), "file")
    raise InvalidArgumentError(
        f"path {str(value)!r} does not exist; a step input path must be a file or a folder"
    )


@fingerprint.register(DatasetVersion)
def _dataset_version(value: DatasetVersion) -> str:
    return hash_bytes(f"{value.dataset_name}@{value.version}:{value.content_hash}".encode(), "ds")


def data_label(value: object) -> str | None:
    """One line standing for a data value where a parameter is shown (a pipeline's or a
    step's params, ``describe_arguments``): a dataset version by its ref and content hash,
    a frame, array or table by its shape and fingerprint. None for any other value."""
    if isinstance(value, DatasetVersion):
        return f"dataset {value.ref} · {value.content_hash[:12]}"
    if type(value).__module__.partition(".")[0] not in _DATA_MODULES:
        return None
    shape = getattr(value, "shape", None)
    if not isinstance(shape, tuple) or not shape:  # a numpy scalar is a plain value
        return None
    dims = [str(n) for n in shape]
    size = f"{dims[0]} rows x {dims[1]} columns" if len(dims) == 2 else " x ".join(dims)
    if len(dims) == 1:
        size = f"{dims[0]} values"
    try:
        fp = fingerprint(value)
    except Exception:  # an object column keel cannot hash: still one line
        return f"{type(value).__name__} {size}"
    return f"{type(value).__name__} {size} · fingerprint {fp[:12]}"


_DATA_MODULES = ("pandas", "numpy", "pyarrow", "polars")


# -- lazily registered types --------------------------------------------------------------


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _lazy_handler(cls: type) -> Callable[[Any], str] | None:
    for base in cls.__mro__:
        handler = _LAZY.get(_qualname(base))
        if handler is not None:
            fingerprint.register(cls, handler)
            return handler
    return None


def _dataframe(value: Any) -> str:
    import pandas as pd

    rows = pd.util.hash_pandas_object(value, index=True).to_numpy()
    meta = json.dumps([[str(c), str(t)] for c, t in value.dtypes.items()])
    names = json.dumps([str(n) for n in value.index.names])
    return hash_bytes(rows.tobytes() + meta.encode() + names.encode(), "pandas.DataFrame")


def _series(value: Any) -> str:
    import pandas as pd

    rows = pd.util.hash_pandas_object(value, index=True).to_numpy()
    meta = f"{value.name}:{value.dtype}"
    return hash_bytes(rows.tobytes() + meta.encode(), "pandas.Series")


def _ndarray(value: Any) -> str:
    import numpy as np

    if value.dtype.hasobject:
        return _combine(
            "ndarray[object]", [str(value.shape)] + [fingerprint(v) for v in value.flat]
        )
    data = np.ascontiguousarray(value)
    meta = f"{value.dtype.str}:{value.shape}"
    return hash_bytes(meta.encode() + data.tobytes(), "ndarray")


def _numpy_scalar(value: Any) -> str:
    return fingerprint(value.item())


def _arrow_table(value: Any) -> str:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, value.schema) as writer:
        writer.write(value)
    return hash_bytes(sink.getvalue().to_pybytes(), "arrow")


def _estimator(value: Any) -> str:
    """A fitted scikit-learn model: its class, its parameters and its fitted attributes."""
    params = value.get_params(deep=False)
    parts = [_qualname(type(value))]
    for name in sorted(params):
        parts.append(f"{name}={_lenient(params[name])}")
    for name in sorted(vars(value)):
        if name.endswith("_") and not name.startswith("_"):
            parts.append(f"{name}={_lenient(getattr(value, name))}")
    return _combine("sklearn", parts)


def _lenient(value: Any) -> str:
    try:
        return fingerprint(value)
    except InvalidArgumentError:
        return hash_bytes(repr(value).encode(), "repr")


_LAZY: dict[str, Callable[[Any], str]] = {
    "pandas.DataFrame": _dataframe,
    "pandas.core.frame.DataFrame": _dataframe,
    "pandas.Series": _series,
    "pandas.core.series.Series": _series,
    "numpy.ndarray": _ndarray,
    "numpy.generic": _numpy_scalar,
    "pyarrow.lib.Table": _arrow_table,
    "sklearn.base.BaseEstimator": _estimator,
}
