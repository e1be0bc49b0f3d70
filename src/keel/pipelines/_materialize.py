"""Typed materializers: how a step's output is written to the blob store and read back.

Tables go to Parquet, arrays to ``.npy`` (read with ``allow_pickle=False``), scikit-learn
models to skops (loaded only with the types recorded when they were saved), plain values to
JSON; tuples, lists and dicts holding such values are stored element by element. Nothing
is pickled. A value no materializer accepts is refused with a message naming its type.

Each stored output is described by a *manifest* (plain JSON kept in the cache entry):
``{"materializer": ..., "blob_sha": ..., "size": ..., "version": ...}`` for one blob, or
``{"materializer": "container", "kind": "tuple", "items": [...], "version": ...}``.
``version`` is the output's content hash: the data version downstream cache keys use.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from keel.exceptions import InvalidArgumentError, UnsafeModelError
from keel.store.entities import DatasetVersion
from keel.store.protocols import Blobs


class UnstorableOutputError(InvalidArgumentError):
    """No materializer can store this value (raised with the step's name added)."""


@dataclass(frozen=True)
class Materializer:
    """``save`` turns a value into bytes plus metadata; ``load`` turns them back."""

    name: str
    accepts: Callable[[Any], bool]
    save: Callable[[Any], tuple[bytes, dict[str, Any]]]
    load: Callable[[bytes, dict[str, Any]], Any]


_REGISTRY: list[Materializer] = []


def register_materializer(materializer: Materializer, *, first: bool = True) -> None:
    """Add a materializer; ``first`` puts it before the built-ins so it wins for its types."""
    global _REGISTRY
    others = [m for m in _REGISTRY if m.name != materializer.name]
    _REGISTRY = [materializer, *others] if first else [*others, materializer]


def _type_name(value: Any) -> str:
    cls = type(value)
    return f"{cls.__module__}.{cls.__qualname__}"


def _is_module_type(value: Any, *qualnames: str) -> bool:
    return any(f"{c.__module__}.{c.__qualname__}" in qualnames for c in type(value).__mro__)


# -- JSON -----------------------------------------------------------------------------------


def _is_json(value: Any, depth: int = 0) -> bool:
    if depth > 50:
        return False
    if value is None or isinstance(value, (bool, int, str)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if type(value) is list:
        return all(_is_json(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(isinstance(k, str) and _is_json(v, depth + 1) for k, v in value.items())
    return False


def _json_save(value: Any) -> tuple[bytes, dict[str, Any]]:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode(), {}


def _json_load(data: bytes, meta: dict[str, Any]) -> Any:
    return json.loads(data)


# -- arrays and tables ------------------------------------------------------------------------


def _is_array(value: Any) -> bool:
    return _is_module_type(value, "numpy.ndarray") and not value.dtype.hasobject


def _npy_save(value: Any) -> tuple[bytes, dict[str, Any]]:
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, value, allow_pickle=False)
    return buf.getvalue(), {"dtype": value.dtype.str, "shape": list(value.shape)}


def _npy_load(data: bytes, meta: dict[str, Any]) -> Any:
    import numpy as np

    return np.load(io.BytesIO(data), allow_pickle=False)


def _is_frame(value: Any) -> bool:
    return _is_module_type(value, "pandas.core.frame.DataFrame", "pandas.DataFrame") and all(
        isinstance(c, str) for c in value.columns
    )


def _is_series(value: Any) -> bool:
    return _is_module_type(value, "pandas.core.series.Series", "pandas.Series")


def _parquet_save(value: Any) -> tuple[bytes, dict[str, Any]]:
    buf = io.BytesIO()
    meta: dict[str, Any] = {}
    if _is_series(value):
        meta = {"series": True, "name": value.name}
        value = value.to_frame(name="__series__")
    value.to_parquet(buf, engine="pyarrow", compression="zstd")
    return buf.getvalue(), meta


def _parquet_load(data: bytes, meta: dict[str, Any]) -> Any:
    import pandas as pd

    frame = pd.read_parquet(io.BytesIO(data), engine="pyarrow")
    if meta.get("series"):
        series = frame["__series__"]
        series.name = meta.get("name")
        return series
    return frame


def _is_arrow(value: Any) -> bool:
    return _is_module_type(value, "pyarrow.lib.Table")


def _arrow_save(value: Any) -> tuple[bytes, dict[str, Any]]:
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(value, buf, compression="zstd")
    return buf.getvalue(), {}


def _arrow_load(data: bytes, meta: dict[str, Any]) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    return pq.read_table(pa.BufferReader(data))


# -- models -----------------------------------------------------------------------------------


def _is_estimator(value: Any) -> bool:
    return _is_module_type(value, "sklearn.base.BaseEstimator")


def _skops_save(value: Any) -> tuple[bytes, dict[str, Any]]:
    from keel._skops import skops_io

    sio = skops_io()

    data = sio.dumps(value)
    return data, {"trusted": sorted(sio.get_untrusted_types(data=data))}


def _skops_load(data: bytes, meta: dict[str, Any]) -> Any:
    from keel._skops import skops_io

    sio = skops_io()

    recorded = set(meta.get("trusted", ()))
    unknown = sorted(set(sio.get_untrusted_types(data=data)) - recorded)
    if unknown:
        raise UnsafeModelError(
            f"stored model refers to types it did not hold when it was saved: {unknown}; "
            "refusing to load it (the blob may have been tampered with)"
        )
    return sio.loads(data, trusted=sorted(recorded))


# -- keel values ------------------------------------------------------------------------------


def _is_dataset_version(value: Any) -> bool:
    return isinstance(value, DatasetVersion)


def _dataset_version_save(value: Any) -> tuple[bytes, dict[str, Any]]:
    data = json.dumps(dataclasses.asdict(value), sort_keys=True, default=str).encode()
    return data, {"dataset_version_id": value.id}


def _dataset_version_load(data: bytes, meta: dict[str, Any]) -> Any:
    return DatasetVersion(**json.loads(data))


def _bytes_save(value: Any) -> tuple[bytes, dict[str, Any]]:
    return bytes(value), {}


def _bytes_load(data: bytes, meta: dict[str, Any]) -> Any:
    return data


for _m in reversed(
    [
        Materializer("json", _is_json, _json_save, _json_load),
        Materializer(
            "parquet", lambda v: _is_frame(v) or _is_series(v), _parquet_save, _parquet_load
        ),
        Materializer("npy", _is_array, _npy_save, _npy_load),
        Materializer("arrow-parquet", _is_arrow, _arrow_save, _arrow_load),
        Materializer("skops", _is_estimator, _skops_save, _skops_load),
        Materializer(
            "keel-dataset-version",
            _is_dataset_version,
            _dataset_version_save,
            _dataset_version_load,
        ),
        Materializer("bytes", lambda v: isinstance(v, bytes), _bytes_save, _bytes_load),
    ]
):
    register_materializer(_m)


def _container_kind(value: Any) -> str | None:
    if type(value) is tuple:
        return "tuple"
    if type(value) is list:
        return "list"
    if type(value) is dict and all(isinstance(k, str) for k in value):
        return "dict"
    return None


def find_materializer(value: Any) -> Materializer | None:
    for m in _REGISTRY:
        try:
            if m.accepts(value):
                return m
        except Exception:
            continue
    return None


def can_store(value: Any) -> bool:
    if find_materializer(value) is not None:
        return True
    kind = _container_kind(value)
    if kind is None:
        return False
    items = value.values() if kind == "dict" else value
    return all(can_store(v) for v in items)


def store_value(value: Any, blobs: Blobs) -> dict[str, Any]:
    """Write ``value`` to ``blobs``; returns its manifest. Raises UnstorableOutputError."""
    m = find_materializer(value)
    if m is not None:
        data, meta = m.save(value)
        ref = blobs.put_bytes(data)
        return {
            "materializer": m.name,
            "type": _type_name(value),
            "blob_sha": ref.sha,
            "size": ref.size,
            "meta": meta,
            "version": ref.sha,
        }
    kind = _container_kind(value)
    if kind is None:
        raise UnstorableOutputError(
            f"it returned a value of type {_type_name(value)}, which no materializer can "
            "store; return a DataFrame, an array, a scikit-learn model or a JSON value, "
            "register a materializer with keel.pipelines.register_materializer(), or mark "
            "the step cache=False and use the in-process runner"
        )
    keys = list(value) if kind == "dict" else None
    items = [store_value(v, blobs) for v in (value.values() if kind == "dict" else value)]
    version = hashlib.sha256(
        json.dumps([kind, keys, [i["version"] for i in items]]).encode()
    ).hexdigest()
    out: dict[str, Any] = {"materializer": "container", "kind": kind, "items": items}
    if keys is not None:
        out["keys"] = keys
    out["version"] = version
    out["size"] = sum(int(i.get("size", 0)) for i in items)
    return out


def load_value(manifest: dict[str, Any], blobs: Blobs) -> Any:
    """Read a stored output back; the blob's hash is checked as it is read."""
    if manifest["materializer"] == "container":
        items = [load_value(i, blobs) for i in manifest["items"]]
        if manifest["kind"] == "tuple":
            return tuple(items)
        if manifest["kind"] == "dict":
            return dict(zip(manifest["keys"], items, strict=True))
        return items
    for m in _REGISTRY:
        if m.name == manifest["materializer"]:
            return m.load(blobs.read_bytes(manifest["blob_sha"]), manifest.get("meta", {}))
    raise InvalidArgumentError(
        f"stored output uses materializer {manifest['materializer']!r}, which is not "
        "registered in this process; import the module that registers it"
    )


def sub_manifest(manifest: dict[str, Any], path: tuple[int | str, ...]) -> dict[str, Any] | None:
    """The manifest of ``output[path]`` when the output is a stored container, else None."""
    current = manifest
    for key in path:
        if current.get("materializer") != "container":
            return None
        if current["kind"] == "dict":
            if key not in current["keys"]:
                return None
            key = current["keys"].index(key)
        if not isinstance(key, int) or not -len(current["items"]) <= key < len(current["items"]):
            return None
        current = current["items"][key]
    return current


def dataset_versions_in(manifest: dict[str, Any]) -> list[int]:
    """Ids of keel dataset versions a stored output holds (for lineage)."""
    if manifest.get("materializer") == "container":
        return [i for item in manifest["items"] for i in dataset_versions_in(item)]
    vid = manifest.get("meta", {}).get("dataset_version_id")
    return [int(vid)] if vid is not None else []
