"""MLflow's wording for request errors on the MLflow API (clients and tests match on it)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

_DOCS = " See the API docs for more information about request parameters."


def invalid_value(param: str, value: object, message: str | None = None) -> str:
    """MLflow's ``invalid_value``: the value as compact JSON, then the parameter."""
    try:
        shown = json.dumps(value, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        shown = repr(value)
    if len(shown) > 200:
        shown = shown[:200] + "..."
    if message:
        return f"Invalid value {shown} for parameter '{param}' supplied: {message}"
    return f"Invalid value {shown} for parameter '{param}' supplied."


def validation_message(errors: Sequence[Any]) -> str:
    """The first problem of a request, worded as MLflow's request validation words it."""
    if not errors:
        return "Invalid request." + _DOCS
    err = errors[0]
    loc = [p for p in err.get("loc", ()) if p not in ("body", "query")]
    param = str(loc[0]) if loc else "request"
    if err.get("type") == "missing" or ("input" in err and err["input"] is None):
        return f"Missing value for required parameter '{_path(loc) or param}'." + _DOCS
    value = err.get("input")
    hint = f" Hint: Value was of type '{type(value).__name__}'."
    return invalid_value(param, value, hint) + _DOCS


def _path(loc: Sequence[object]) -> str:
    """``metrics[0].timestamp``: a nested field as MLflow names it."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


__all__ = ["invalid_value", "validation_message"]
