"""Entities from database rows: one mapping, by field name, instead of a hand-written
field-by-field converter per entity (the row twin of the one wire format)."""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import Any, TypeVar, cast

T = TypeVar("T")


@cache
def _fields(cls: Any) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.init)


def entity(cls: type[T], row: Any, **computed: Any) -> T:
    """``cls`` (a dataclass) from a SQLAlchemy ``row``: each field from the column of the
    same name, but those given in ``computed`` (decoded JSON, enums, booleans, a column of
    another name); a field the row lacks keeps its default."""
    data = row._mapping
    names: tuple[str, ...] = _fields(cast(Any, cls))
    values = {f: data[f] for f in names if f not in computed and f in data}
    return cls(**values, **computed)
