"""Compile a parsed run filter into one SQL query (EXISTS sub-queries, never string SQL)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, exists, not_, or_, select
from sqlalchemy.sql import func

from keel.exceptions import InvalidArgumentError
from keel.store.entities import Lifecycle
from keel.store.filters import (
    NUMERIC_ATTRIBUTES,
    And,
    Comparison,
    Expr,
    Or,
    parse_filter,
    parse_order_by,
)
from keel.store.runs import LM, P, R, T

MAX_RESULTS_LIMIT = 50_000


def decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
        offset = int(data["offset"])
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidArgumentError(
            f"page token {token[:40]!r} is not one keel issued; pass the next_page_token "
            "from the previous page"
        ) from exc
    if offset < 0:
        raise InvalidArgumentError(f"page token {token[:40]!r} has a negative offset")
    return offset


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    match op:
        case "=":
            return column == value
        case "!=":
            return column != value
        case "<":
            return column < value
        case "<=":
            return column <= value
        case ">":
            return column > value
        case ">=":
            return column >= value
        case "like":
            return column.like(value)
        case "ilike":
            return func.lower(column).like(func.lower(value))
        case "in":
            return column.in_(list(value))
        case "not in":
            return not_(column.in_(list(value)))
    raise InvalidArgumentError(f"unknown operator {op!r}")  # pragma: no cover - parser guards


def _condition(expr: Expr) -> ColumnElement[bool]:
    if isinstance(expr, And):
        return and_(*(_condition(t) for t in expr.terms))
    if isinstance(expr, Or):
        return or_(*(_condition(t) for t in expr.terms))
    return _comparison(expr)


def _comparison(cmp: Comparison) -> ColumnElement[bool]:
    if cmp.entity == "attribute":
        column = R.c[cmp.key]
        value = cmp.value
        if cmp.key in NUMERIC_ATTRIBUTES and isinstance(value, float):
            value = int(value) if value.is_integer() else value
        return _compare(column, cmp.op, value)
    if cmp.entity == "metric":
        return exists().where(
            LM.c.run_id == R.c.id,
            LM.c.key == cmp.key,
            LM.c.is_nan.is_(False),
            _compare(LM.c.value, cmp.op, cmp.value),
        )
    table = P if cmp.entity == "param" else T
    if cmp.op in ("!=", "not in"):
        # "params.model != 'rf'" matches runs whose param differs, not runs without it.
        positive = "=" if cmp.op == "!=" else "in"
        return exists().where(
            table.c.run_id == R.c.id,
            table.c.key == cmp.key,
            not_(_compare(table.c.value, positive, cmp.value)),
        )
    return exists().where(
        table.c.run_id == R.c.id,
        table.c.key == cmp.key,
        _compare(table.c.value, cmp.op, cmp.value),
    )


def compile_search(
    experiment_ids: Sequence[int],
    filter_string: str | None,
    *,
    order_by: Sequence[str] | str | None,
    max_results: int,
    offset: int,
    include_deleted: bool,
) -> Select[Any]:
    if not 1 <= max_results <= MAX_RESULTS_LIMIT:
        raise InvalidArgumentError(
            f"max_results must be between 1 and {MAX_RESULTS_LIMIT}, got {max_results}; "
            "page through larger results with page_token"
        )
    query = select(R).where(R.c.experiment_id.in_(list(experiment_ids)))
    if not include_deleted:
        query = query.where(R.c.lifecycle == Lifecycle.ACTIVE.value)
    expr = parse_filter(filter_string)
    if expr is not None:
        query = query.where(_condition(expr))
    ordering: list[Any] = []
    for i, ob in enumerate(parse_order_by(order_by)):
        if ob.entity == "attribute":
            col: Any = R.c[ob.key]
        else:
            table = {"metric": LM, "param": P, "tag": T}[ob.entity]
            alias = table.alias(f"ob{i}")
            cond = and_(alias.c.run_id == R.c.id, alias.c.key == ob.key)
            if ob.entity == "metric":
                cond = and_(cond, alias.c.is_nan.is_(False))
            query = query.outerjoin(alias, cond)
            col = alias.c.value
        ordering.append(case((col.is_(None), 1), else_=0))  # missing values sort last
        ordering.append(col.asc() if ob.ascending else col.desc())
    ordering += [R.c.start_time.desc(), R.c.id]
    # One row more than asked tells whether another page exists.
    return query.order_by(*ordering).offset(offset).limit(max_results + 1)
