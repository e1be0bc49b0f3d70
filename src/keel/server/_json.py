"""JSON responses: compact, strictly valid (no bare NaN) and safe to embed in HTML."""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.responses import JSONResponse

from keel.store import wire

_HTML_UNSAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def num(value: float) -> float | str:
    """A float as JSON allows it: NaN and infinities become strings (protobuf JSON style)."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def parse_num(value: float | int | str) -> float:
    """The inverse of :func:`num` for values coming in."""
    if isinstance(value, str):
        return float(value)  # "NaN", "Infinity", "-Infinity", or digits
    return float(value)


def dumps(content: Any) -> bytes:
    return (
        json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        .translate(_HTML_UNSAFE)
        .encode("utf-8")
    )


class JSON(JSONResponse):
    """``application/json`` rendered by :func:`dumps`."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


class WireJSON(JSON):
    """An ``/api/v1`` answer: FastAPI has checked it against the route's response model
    and turned it into JSON values; :func:`keel.store.wire.encode` writes them (NaN and
    infinities as strings), HTML-unsafe characters escaped as in :func:`dumps`."""

    def render(self, content: Any) -> bytes:
        raw = wire.encode(content)
        return raw.replace(b"<", b"\\u003c").replace(b">", b"\\u003e").replace(b"&", b"\\u0026")


__all__ = ["JSON", "WireJSON", "dumps", "num", "parse_num"]
