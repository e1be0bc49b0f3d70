"""Request and response bodies: Open Inference Protocol v2, MLflow ``/invocations``, records.

Parsing happens in two steps so that one body can feed versions with different
signatures (a shadow may expect another column): :func:`parse_v2`, :func:`parse_invocations`
and :func:`parse_records` turn JSON into a :class:`Payload`; ``payload.rows(schema)`` checks
it against one model's schema. Every problem raises :class:`HttpError` with a 4xx status and
a message that names the key, column or value at fault.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from keel.exceptions import ModelInputError
from keel.serving._schema import InputSchema, Rows, schema_less_rows

try:  # orjson is several times faster on both sides; plain json is the fallback
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson ships with the serving extra
    _orjson = None  # type: ignore[assignment]

_DUMP_OPTS = (_orjson.OPT_SERIALIZE_NUMPY | _orjson.OPT_NON_STR_KEYS) if _orjson else 0
V2_DATATYPES = frozenset(
    "BOOL UINT8 UINT16 UINT32 UINT64 INT8 INT16 INT32 INT64 FP16 FP32 FP64 BYTES".split()
)
MAX_TENSOR_DEPTH = 32
INVOCATION_KEYS = ("dataframe_split", "dataframe_records", "inputs", "instances")
_INVOCATION_FIELDS = frozenset({*INVOCATION_KEYS, "params"})


class HttpError(Exception):
    """An answer other than 200, with the message shown to the caller."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.counted = False  # True once a version's metrics counted it


def loads(body: bytes) -> Any:
    """Parse JSON, turning a syntax error into a 400 that says where it is."""
    if not body.strip():
        raise HttpError(400, "empty request body; send a JSON object")
    try:
        if _orjson is not None:
            return _orjson.loads(body)
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise HttpError(400, f"malformed JSON: {exc}") from None


def dumps(obj: Any) -> bytes:
    if _orjson is not None:
        try:
            return _orjson.dumps(obj, option=_DUMP_OPTS, default=_default)
        except TypeError:
            pass  # object arrays and other exotica: take the portable road
    return json.dumps(_plain(obj), default=str, allow_nan=False).encode()


def _default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError


def _plain(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        obj = obj.tolist()
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


# -- payloads ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Payload:
    """A parsed body not yet checked against a schema."""

    kind: str  # "split" | "records" | "columns" | "tensor"
    data: Any
    columns: list[str] | None = None
    request_id: str | None = None
    parameters: Mapping[str, Any] | None = None
    outputs: tuple[str, ...] = ()

    def first_value(self, column: str) -> Any:
        """The value of ``column`` in the first row (the sticky route key), or None."""
        try:
            if self.kind == "records":
                first = self.data if isinstance(self.data, Mapping) else self.data[0]
                return first.get(column)
            if self.kind == "split" and self.columns and column in self.columns:
                return self.data[0][self.columns.index(column)]
            if self.kind == "columns" and column in self.data:
                return self.data[column][0]
        except (IndexError, KeyError, TypeError, AttributeError):
            return None
        return None

    def rows(self, schema: InputSchema | None) -> Rows:
        try:
            return self._rows(schema)
        except ModelInputError as exc:
            raise HttpError(400, str(exc)) from None
        except (ValueError, TypeError, RecursionError) as exc:  # shapes numpy cannot hold
            raise HttpError(
                400, f"the request's values do not form rows of plain values: {str(exc)[:200]}"
            ) from None

    def _rows(self, schema: InputSchema | None) -> Rows:
        if schema is None:
            return schema_less_rows(self._columns())
        if self.kind in ("split", "tensor"):
            return schema.rows_from_matrix(self.columns, self.data)
        if self.kind == "records":
            return schema.rows_from_records(self.data)
        return schema.rows_from_columns(self.data)

    def _columns(self) -> dict[str, Any]:
        if self.kind == "columns":
            return dict(self.data)
        if self.kind == "records":
            records = [self.data] if isinstance(self.data, Mapping) else self.data
            if not records:
                raise ModelInputError("empty batch: the request has no rows")
            keys = list(records[0])
            return {k: [r.get(k) for r in records] for k in keys}
        if not self.data:
            raise ModelInputError("empty batch: the request has no rows")
        cols = self.columns or [f"c{i}" for i in range(len(self.data[0]))]
        return {c: [row[j] for row in self.data] for j, c in enumerate(cols)}


def _need(cond: bool, message: str) -> None:
    if not cond:
        raise HttpError(400, message)


# Checks that run on every request: exact JSON types first (one C-level pass), the
# abstract Mapping/str checks only for what a JSON parser does not produce.
def _is_object(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)


def _all_of(values: list[Any], exact: type, kind: type) -> bool:
    """Every value is an ``exact`` (one pass over the types) or else a ``kind``."""
    return {exact}.issuperset(map(type, values)) or all(isinstance(v, kind) for v in values)


def parse_records(obj: Any) -> Payload:
    """Plain JSON: a list of row objects, one row object, or ``{"records": [...]}``."""
    if isinstance(obj, Mapping) and set(obj) == {"records"}:
        obj = obj["records"]
    _need(
        isinstance(obj, list | Mapping),
        f"expected a JSON list of row objects or one row object, got {type(obj).__name__}",
    )
    if isinstance(obj, list) and not _all_of(obj, dict, Mapping):
        i, row = next((i, r) for i, r in enumerate(obj) if not isinstance(r, Mapping))
        raise HttpError(400, f"row {i} must be a JSON object, got {row!r:.60}")
    return Payload("records", obj)


def parse_invocations(obj: Any) -> Payload:
    """MLflow scoring protocol: exactly one of ``dataframe_split``, ``dataframe_records``,
    ``inputs``, ``instances`` (``params`` is passed along)."""
    # (messages are built only on the way out: this runs on every request)
    if not _is_object(obj):
        raise HttpError(
            400,
            f"expected a JSON object with one of {', '.join(INVOCATION_KEYS)}; got "
            f"{type(obj).__name__}",
        )
    keys = [k for k in INVOCATION_KEYS if k in obj]
    if len(keys) != 1 or not _INVOCATION_FIELDS.issuperset(obj):
        raise HttpError(
            400,
            f"the body must hold exactly one of {', '.join(INVOCATION_KEYS)} (and optionally "
            f"params); it has {sorted(obj)}",
        )
    key, value, params = keys[0], obj[keys[0]], obj.get("params")
    if key == "dataframe_split":
        _need(_is_object(value), "dataframe_split must be an object")
        _need("data" in value, "dataframe_split needs 'data' (a list of rows)")
        cols = value.get("columns")
        _need(
            cols is None or (isinstance(cols, list) and _all_of(cols, str, str)),
            "dataframe_split 'columns' must be a list of column names",
        )
        return Payload("split", value["data"], columns=cols, parameters=params)
    if key == "dataframe_records":
        _need(isinstance(value, list), "dataframe_records must be a list of row objects")
        return Payload("records", parse_records(value).data, parameters=params)
    if isinstance(value, Mapping):  # {"inputs": {"col": [..]}} (columnar)
        cols = {str(k): v if isinstance(v, list) else [v] for k, v in value.items()}
        return Payload("columns", cols, parameters=params)
    _need(isinstance(value, list), f"{key} must be a list of rows or an object of columns")
    if value and _all_of(value, dict, Mapping):
        return Payload("records", value, parameters=params)
    return Payload("tensor", value, parameters=params)


def parse_csv(body: bytes) -> Payload:
    """``text/csv`` for ``/invocations``: a header line, then rows (values parsed as JSON)."""
    import csv
    import io

    try:
        reader = csv.reader(io.StringIO(body.decode("utf-8")))
        header = next(reader)
    except (UnicodeDecodeError, StopIteration, csv.Error) as exc:
        raise HttpError(400, f"malformed CSV: {exc or 'no header line'}") from None
    rows = [[_csv_value(v) for v in row] for row in reader if row]
    return Payload("split", rows, columns=header)


def _csv_value(text: str) -> Any:
    if text == "":
        return None
    try:
        return float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        return text


def parse_v2(obj: Any) -> Payload:
    """An Open Inference Protocol v2 ``InferenceRequest``."""
    _need(isinstance(obj, Mapping), "an inference request must be a JSON object with 'inputs'")
    inputs = obj.get("inputs")
    _need(isinstance(inputs, list) and len(inputs) > 0, "'inputs' must be a non-empty list")
    request_id = obj.get("id")
    outputs = tuple(
        str(o["name"]) for o in obj.get("outputs") or [] if isinstance(o, Mapping) and o.get("name")
    )
    tensors = [_v2_tensor(i, t) for i, t in enumerate(inputs)]
    params = obj.get("parameters") if isinstance(obj.get("parameters"), Mapping) else None
    rid = str(request_id) if request_id is not None else None
    if len(tensors) == 1 and len(tensors[0][1]) == 2 and tensors[0][1][1] > 1:
        name, shape, data = tensors[0]
        rows = data if data and isinstance(data[0], list) else _chunk(data, shape[1])
        return Payload("tensor", rows, request_id=rid, parameters=params, outputs=outputs)
    cols: dict[str, Any] = {}
    for name, shape, data in tensors:
        _need(
            len(shape) == 1 or (len(shape) == 2 and shape[1] == 1),
            f"input {name!r} has shape {shape}; send one input per column with shape [n] or "
            "[n, 1], or a single [n, k] tensor",
        )
        cols[name] = _flatten(data, name) if data and isinstance(data[0], list) else data
    return Payload("columns", cols, request_id=rid, parameters=params, outputs=outputs)


def _v2_tensor(i: int, t: Any) -> tuple[str, list[int], list[Any]]:
    _need(isinstance(t, Mapping), f"inputs[{i}] must be an object with name, shape, datatype, data")
    name, shape, dtype, data = t.get("name"), t.get("shape"), t.get("datatype"), t.get("data")
    _need(isinstance(name, str) and name != "", f"inputs[{i}] needs a 'name'")
    _need(
        isinstance(shape, list) and all(isinstance(s, int) and s >= 0 for s in shape),
        f"input {name!r} needs 'shape', a list of non-negative integers",
    )
    _need(
        dtype in V2_DATATYPES,
        f"input {name!r} has datatype {dtype!r}; use one of {', '.join(sorted(V2_DATATYPES))}",
    )
    _need(isinstance(data, list), f"input {name!r} needs 'data', a list")
    size = math.prod(shape)
    flat = len(_flatten(data, name)) if data and isinstance(data[0], list) else len(data)
    _need(size > 0, f"empty batch: input {name!r} has shape {shape}; send at least one row")
    _need(flat == size, f"input {name!r} has shape {shape} ({size} values) but {flat} data values")
    return name, shape, data


def _flatten(data: list[Any], name: str = "", max_depth: int = MAX_TENSOR_DEPTH) -> list[Any]:
    """The values of nested lists in order, without recursion; deeper than ``max_depth``
    levels is a 400 (a tensor of more dimensions than any model takes)."""
    out: list[Any] = []
    stack: list[Any] = [iter(data)]
    while stack:
        for v in stack[-1]:
            if isinstance(v, list):
                if len(stack) >= max_depth:
                    raise HttpError(
                        400,
                        f"input {name!r} 'data' is nested more than {max_depth} levels deep; "
                        "send a flat list (row-major) or lists as deep as the shape",
                    )
                stack.append(iter(v))
                break
            out.append(v)
        else:
            stack.pop()
    return out


def _chunk(data: list[Any], width: int) -> list[list[Any]]:
    return [data[i : i + width] for i in range(0, len(data), width)]


# -- outputs -------------------------------------------------------------------------------


def normalize_outputs(result: Any, n: int) -> dict[str, np.ndarray]:
    """A model's answer as ``{output name: array with n rows}`` whatever type it returned."""
    if isinstance(result, Mapping):
        outs = {str(k): np.asarray(v) for k, v in result.items()}
    elif hasattr(result, "columns") and hasattr(result, "to_numpy"):  # a DataFrame
        outs = {str(c): result[c].to_numpy() for c in result.columns}
    elif hasattr(result, "to_numpy"):  # a Series
        outs = {str(getattr(result, "name", None) or "predictions"): result.to_numpy()}
    else:
        outs = {"predictions": np.asarray(result)}
    for name, arr in outs.items():
        if arr.ndim == 0 or arr.shape[0] != n:
            got = "a scalar" if arr.ndim == 0 else f"{arr.shape[0]} rows"
            raise RuntimeError(f"the model returned {got} in output {name!r} for {n} input rows")
    return outs


def slice_outputs(outs: Mapping[str, np.ndarray], start: int, stop: int) -> dict[str, np.ndarray]:
    return {k: v[start:stop] for k, v in outs.items()}


_V2_OUT = {"f": "FP64", "i": "INT64", "u": "UINT64", "b": "BOOL"}


def output_metadata(outs: Mapping[str, np.ndarray]) -> list[dict[str, Any]]:
    """The v2 metadata of outputs as ``/infer`` answers them (name, datatype, shape)."""
    return [
        {"name": name, "datatype": v2_datatype(arr), "shape": [-1, *arr.shape[1:]]}
        for name, arr in outs.items()
    ]


def v2_datatype(arr: np.ndarray) -> str:
    if arr.dtype == np.float32:
        return "FP32"
    return _V2_OUT.get(arr.dtype.kind, "BYTES")


def v2_response(
    model: str,
    version: str,
    request_id: str | None,
    outs: Mapping[str, np.ndarray],
    wanted: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A v2 ``InferenceResponse`` (JSON data) with the ``wanted`` outputs, or all of them."""
    unknown = [w for w in wanted if w not in outs]
    if unknown:
        raise HttpError(
            400,
            f"the model has no output {unknown[0]!r}; it answers {', '.join(map(repr, outs))} "
            "(see GET /v2/models/{name} for its outputs)",
        )
    outputs = [
        {
            "name": name,
            "shape": list(arr.shape),
            "datatype": v2_datatype(arr),
            "data": _json_array(arr.reshape(-1)),
        }
        for name, arr in outs.items()
        if not wanted or name in wanted
    ]
    body: dict[str, Any] = {"model_name": model, "model_version": version, "outputs": outputs}
    if request_id is not None:
        body["id"] = request_id
    return body


def encode_predictions(outs: Mapping[str, np.ndarray], **extra: Any) -> bytes:
    """MLflow style: ``{"predictions": [...]}``; several outputs become row objects."""
    if len(outs) == 1:
        preds: Any = _json_array(next(iter(outs.values())))
    else:
        cols = {k: _json_array(v) for k, v in outs.items()}
        cols = {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in cols.items()}
        n = len(next(iter(cols.values())))
        preds = [{k: cols[k][i] for k in cols} for i in range(n)]
    return dumps({"predictions": preds, **extra})


def _json_array(arr: np.ndarray) -> Any:
    """Arrays orjson can write as they are; everything else as plain lists."""
    if arr.dtype.kind in "fiub" and arr.flags.c_contiguous and arr.dtype.isnative:
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            return [None if not math.isfinite(x) else x for x in arr.tolist()]
        return arr if _orjson is not None else arr.tolist()
    if arr.dtype.kind == "M":
        return [str(x) for x in arr.tolist()]
    return arr.tolist()


__all__ = [
    "HttpError",
    "Payload",
    "dumps",
    "encode_predictions",
    "loads",
    "normalize_outputs",
    "parse_csv",
    "parse_invocations",
    "parse_records",
    "parse_v2",
    "slice_outputs",
    "v2_response",
]
