"""The Open Inference Protocol's binary tensor data extension (Triton's and KServe's default).

A request (or response) body is a JSON header of ``Inference-Header-Content-Length`` bytes
followed by raw tensors, in the order of the inputs (outputs) whose ``parameters`` carry a
``binary_data_size``. Numbers are little-endian; ``BYTES`` elements are each a 4-byte
length and that many bytes. Decoded tensors become plain ``data`` lists, so they go through
the same checks as JSON ones: booleans in number columns, nulls, shapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from keel.serving._codec import HttpError, loads, v2_datatype

HEADER = "inference-header-content-length"
_DTYPES = {
    "BOOL": "?",
    "UINT8": "<u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "INT8": "<i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
}


def read_request(body: bytes, header_length: str) -> Any:
    """The JSON request with every binary input turned into its ``data`` list."""
    if not header_length.isdigit() or int(header_length) > len(body):
        raise HttpError(
            400,
            f"{HEADER} is {header_length[:20]!r} but the body has {len(body)} bytes; it must "
            "be the length of the JSON part",
        )
    split = int(header_length)
    obj = loads(body[:split])
    rest = memoryview(body)[split:]
    inputs = obj.get("inputs") if isinstance(obj, Mapping) else None
    offset = 0
    for t in inputs if isinstance(inputs, list) else []:
        params = t.get("parameters") if isinstance(t, Mapping) else None
        size = params.get("binary_data_size") if isinstance(params, Mapping) else None
        if size is None:
            continue
        name = t.get("name")
        if not isinstance(size, int) or size < 0 or offset + size > len(rest):
            raise HttpError(
                400,
                f"input {name!r} has binary_data_size {size!r} but only {len(rest) - offset} "
                "binary bytes are left in the body",
            )
        t["data"] = _decode(name, t.get("datatype"), rest[offset : offset + size])
        offset += size
    if offset != len(rest):
        raise HttpError(
            400,
            f"the body has {len(rest) - offset} binary bytes no input's binary_data_size claims",
        )
    return obj


def _decode(name: Any, datatype: Any, raw: memoryview) -> list[Any]:
    if datatype == "BYTES":
        return _decode_bytes(name, bytes(raw))
    dtype = _DTYPES.get(str(datatype))
    if dtype is None:
        raise HttpError(400, f"input {name!r} has datatype {datatype!r}; binary data needs one of "
                        f"{', '.join(sorted([*_DTYPES, 'BYTES']))}")  # fmt: skip
    width = np.dtype(dtype).itemsize
    if len(raw) % width:
        raise HttpError(
            400, f"input {name!r}: {len(raw)} bytes is not a whole number of {datatype} values"
        )
    values: list[Any] = np.frombuffer(raw, dtype=dtype).tolist()
    return values


def _decode_bytes(name: Any, raw: bytes) -> list[Any]:
    out: list[Any] = []
    i = 0
    while i < len(raw):
        if i + 4 > len(raw):
            raise HttpError(400, f"input {name!r}: BYTES data ends inside a length prefix")
        n = int.from_bytes(raw[i : i + 4], "little")
        value = raw[i + 4 : i + 4 + n]
        if len(value) != n:
            raise HttpError(400, f"input {name!r}: a BYTES element claims {n} bytes past the end")
        try:
            out.append(value.decode("utf-8"))
        except UnicodeDecodeError:
            raise HttpError(400, f"input {name!r}: a BYTES element is not UTF-8 text") from None
        i += 4 + n
    return out


def binary_outputs(request: Any, names: list[str]) -> set[str]:
    """The outputs the client asked for as binary: ``binary_data`` on an output, else the
    request's ``binary_data_output`` parameter."""
    if not isinstance(request, Mapping):
        return set()
    params = request.get("parameters")
    default = bool(params.get("binary_data_output")) if isinstance(params, Mapping) else False
    chosen = {n for n in names} if default else set()
    for o in request.get("outputs") or []:
        p = o.get("parameters") if isinstance(o, Mapping) else None
        if isinstance(p, Mapping) and "binary_data" in p:
            (chosen.add if p["binary_data"] else chosen.discard)(str(o.get("name")))
    return chosen


def encode_outputs(
    head: dict[str, Any], outs: Mapping[str, np.ndarray], binary: set[str]
) -> tuple[bytes, dict[str, str]]:
    """The response: JSON header plus the binary outputs' raw bytes, and its headers."""
    from keel.serving._codec import dumps

    tail: list[bytes] = []
    for out in head["outputs"]:
        if out["name"] not in binary:
            continue
        arr = np.asarray(outs[out["name"]])
        raw = _encode(arr, out["datatype"])
        out.pop("data", None)
        out["parameters"] = {"binary_data_size": len(raw)}
        tail.append(raw)
    header = dumps(head)
    extra = {HEADER: str(len(header)), "content-type": "application/octet-stream"}
    return header + b"".join(tail), extra


def _encode(arr: np.ndarray, datatype: str) -> bytes:
    if datatype == "BYTES" or v2_datatype(arr) == "BYTES":
        parts = []
        for v in arr.reshape(-1).tolist():
            data = v if isinstance(v, bytes) else str(v).encode()
            parts.append(len(data).to_bytes(4, "little") + data)
        return b"".join(parts)
    return np.ascontiguousarray(arr, dtype=_DTYPES[datatype]).tobytes()


__all__ = ["HEADER", "binary_outputs", "encode_outputs", "read_request"]
