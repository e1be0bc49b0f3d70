"""Compile a model-version filter (the run filter grammar, model vocabulary) into SQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, not_, or_

from keel.exceptions import InvalidArgumentError
from keel.store._schema import ParamRow, table
from keel.store._schema_registry import (
    ModelVersionDatasetRow,
    ModelVersionMetricRow,
    ModelVersionRow,
    ModelVersionTagRow,
    RegisteredModelRow,
    RegisteredModelTagRow,
)
from keel.store.filters import VERSION_ATTRIBUTES, And, Comparison, Expr, Or

RM = table(RegisteredModelRow)
RMT = table(RegisteredModelTagRow)
MV = table(ModelVersionRow)
MVM = table(ModelVersionMetricRow)
MVT = table(ModelVersionTagRow)
MVD = table(ModelVersionDatasetRow)
P = table(ParamRow)

_COLUMNS = {
    "name": RM.c.name,
    "version": MV.c.version,
    "semver": MV.c.semver,
    "flavor": MV.c.flavor,
    "task": MV.c.task,
    "run_id": MV.c.run_id,
    "source": MV.c.source,
    "signer": MV.c.signer,
    "created_at": MV.c.created_at,
}


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    ops = {
        "=": lambda: column == value,
        "!=": lambda: column != value,
        "<": lambda: column < value,
        "<=": lambda: column <= value,
        ">": lambda: column > value,
        ">=": lambda: column >= value,
        "like": lambda: column.like(value),
        "ilike": lambda: func.lower(column).like(func.lower(value)),
        "in": lambda: column.in_(list(value)),
        "not in": lambda: not_(column.in_(list(value))),
    }
    result: ColumnElement[bool] = ops[op]()
    return result


def condition(expr: Expr) -> ColumnElement[bool]:
    if isinstance(expr, And):
        return and_(*(condition(t) for t in expr.terms))
    if isinstance(expr, Or):
        return or_(*(condition(t) for t in expr.terms))
    return _comparison(expr)


def _presence(cmp: Comparison) -> ColumnElement[bool]:
    """``IS [NOT] NULL``: an attribute without a value, or a metric/param/tag never set."""
    if cmp.entity == "attribute" and cmp.key == "dataset":
        found: ColumnElement[bool] = exists().where(MVD.c.version_id == MV.c.id)
    elif cmp.entity == "attribute":
        column = _COLUMNS[cmp.key]
        return column.is_(None) if cmp.op == "is null" else column.is_not(None)
    elif cmp.entity == "metric":
        found = exists().where(MVM.c.version_id == MV.c.id, MVM.c.key == cmp.key)
    elif cmp.entity == "param":
        found = exists().where(P.c.run_id == MV.c.run_id, P.c.key == cmp.key)
    else:
        found = or_(
            exists().where(MVT.c.version_id == MV.c.id, MVT.c.key == cmp.key),
            exists().where(RMT.c.model_id == MV.c.model_id, RMT.c.key == cmp.key),
        )
    return not_(found) if cmp.op == "is null" else found


def _comparison(cmp: Comparison) -> ColumnElement[bool]:
    value: Any = cmp.value
    if cmp.op in ("is null", "is not null"):
        return _presence(cmp)
    if cmp.entity == "attribute" and cmp.key == "dataset":
        return _dataset_condition(cmp)
    if cmp.entity == "attribute":
        if (
            cmp.key in VERSION_ATTRIBUTES.numeric
            and isinstance(value, float)
            and value.is_integer()
        ):
            value = int(value)
        return _compare(_COLUMNS[cmp.key], cmp.op, value)
    if cmp.entity == "metric":
        return exists().where(
            MVM.c.version_id == MV.c.id, MVM.c.key == cmp.key, _compare(MVM.c.value, cmp.op, value)
        )
    if cmp.entity == "param":
        return exists().where(
            P.c.run_id == MV.c.run_id, P.c.key == cmp.key, _compare(P.c.value, cmp.op, value)
        )
    version_tag = exists().where(
        MVT.c.version_id == MV.c.id, MVT.c.key == cmp.key, _compare(MVT.c.value, cmp.op, value)
    )
    model_tag = exists().where(
        RMT.c.model_id == MV.c.model_id, RMT.c.key == cmp.key, _compare(RMT.c.value, cmp.op, value)
    )
    return or_(version_tag, model_tag)


def _dataset_condition(cmp: Comparison) -> ColumnElement[bool]:
    """``dataset = 'customers'`` or ``dataset = 'customers@3'``."""
    values = cmp.value if isinstance(cmp.value, tuple) else (cmp.value,)
    terms = []
    for v in values:
        name, _, ver = str(v).partition("@")
        cond = _compare(MVD.c.dataset, "like" if cmp.op in ("like", "ilike") else "=", name)
        if ver:
            if not ver.isdigit():
                raise InvalidArgumentError(
                    f"dataset {v!r}: the part after '@' must be a version number"
                )
            cond = and_(cond, MVD.c.dataset_version == int(ver))
        terms.append(exists().where(MVD.c.version_id == MV.c.id, cond))
    matched = or_(*terms)
    return not_(matched) if cmp.op in ("!=", "not in") else matched


__all__ = ["VERSION_ATTRIBUTES", "condition"]
