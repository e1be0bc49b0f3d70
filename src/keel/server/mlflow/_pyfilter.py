"""Evaluate a parsed filter over a few objects in Python (experiments, registered models).

Small collections are filtered after loading; the grammar is keel's own
(:mod:`keel.store.filters`), so there is one parser. A ``!=`` on a missing tag is true
by default, as MLflow's client expects for the clause it appends to registered-model
searches; experiment search passes ``missing_ne=False`` (MLflow's SQL: no tag, no match).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from keel.exceptions import FilterSyntaxError
from keel.store.filters import NULL_OPS, And, Comparison, Expr, Or


def matches(
    expr: Expr, attrs: Mapping[str, object], tags: Mapping[str, str], *, missing_ne: bool = True
) -> bool:
    if isinstance(expr, And):
        return all(matches(t, attrs, tags, missing_ne=missing_ne) for t in expr.terms)
    if isinstance(expr, Or):
        return any(matches(t, attrs, tags, missing_ne=missing_ne) for t in expr.terms)
    return _compare(expr, attrs, tags, missing_ne)


def _compare(
    cmp: Comparison, attrs: Mapping[str, object], tags: Mapping[str, str], missing_ne: bool
) -> bool:
    if cmp.op in NULL_OPS:
        present = (tags.get(cmp.key) if cmp.entity == "tag" else attrs.get(cmp.key)) is not None
        return present == (cmp.op == "is not null")
    if cmp.entity == "attribute" and cmp.key in attrs:
        actual = attrs[cmp.key]
    elif cmp.entity == "tag":
        actual = tags.get(cmp.key)
    else:
        known = ", ".join(sorted(attrs))
        raise FilterSyntaxError(
            f"cannot filter on {cmp.entity} {cmp.key!r} here; use {known} or tags.<key>"
        )
    values = cmp.value if isinstance(cmp.value, tuple) else (cmp.value,)
    if actual is None:
        return missing_ne and cmp.op in ("!=", "not in")
    if isinstance(actual, (int, float)) and not isinstance(actual, bool):
        return _numeric(cmp.op, float(actual), values)
    text = str(actual)
    match cmp.op:
        case "=":
            return text == str(values[0])
        case "!=":
            return text != str(values[0])
        case "like" | "ilike":
            flags = re.DOTALL | (re.IGNORECASE if cmp.op == "ilike" else 0)
            return re.fullmatch(_like(str(values[0])), text, flags) is not None
        case "in":
            return text in {str(v) for v in values}
        case "not in":
            return text not in {str(v) for v in values}
    raise FilterSyntaxError(f"operator {cmp.op!r} does not apply to {cmp.key!r}")


def _numeric(op: str, actual: float, values: tuple[object, ...]) -> bool:
    try:
        want = float(str(values[0]))
    except ValueError as exc:
        raise FilterSyntaxError(f"compare with a number, not {values[0]!r}") from exc
    return {
        "=": actual == want,
        "!=": actual != want,
        "<": actual < want,
        "<=": actual <= want,
        ">": actual > want,
        ">=": actual >= want,
    }.get(op, False)


def _like(pattern: str) -> str:
    return "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)


__all__ = ["matches"]
