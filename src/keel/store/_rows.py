"""Entities from database rows: one mapping, by field name, instead of a hand-written
field-by-field converter per entity (the row twin of the one wire format). Rows of
SQLAlchemy and of driver-level SQL (:func:`records`) read the same way."""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    from sqlalchemy.engine.interfaces import DBAPICursor

T = TypeVar("T")


@cache
def _fields(cls: Any) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.init)


def records(cur: DBAPICursor) -> list[dict[str, Any]]:
    """The rows a driver-level query left to fetch, each a mapping of column name to value
    (name a computed column with ``AS``)."""
    names = [d[0] for d in cur.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def entity(cls: type[T], row: Any, **computed: Any) -> T:
    """``cls`` (a dataclass) from a SQLAlchemy ``row`` or a mapping (:func:`records`): each
    field from the column of the same name, but those given in ``computed`` (decoded JSON,
    enums, booleans, a column of another name); a field the row lacks keeps its default."""
    data = getattr(row, "_mapping", row)
    names: tuple[str, ...] = _fields(cast(Any, cls))
    values = {f: data[f] for f in names if f not in computed and f in data}
    return cls(**values, **computed)
