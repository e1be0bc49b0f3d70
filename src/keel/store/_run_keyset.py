"""Sort keys and keyset conditions of run search: a page starts after the last row of the
previous one (its sort key is the page token), so page 1,000 costs what page 1 costs.

A sort key is one value per ``ORDER BY`` term plus the tie-breakers ``start_time DESC,
id``. A term that may be missing (an outer-joined metric, param or tag; an attribute that
may be NULL) sorts its missing values last, whichever the direction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, or_


@dataclass(frozen=True)
class Term:
    """One sort column: its expression, direction and whether it may be NULL."""

    expr: Any
    ascending: bool
    nullable: bool
    fixed: bool = False  # the same value in every row of the query (orders nothing)

    def order(self) -> list[Any]:
        if self.fixed:
            return []
        out: list[Any] = []
        if self.nullable:
            out.append(case((self.expr.is_(None), 1), else_=0))  # missing values sort last
        out.append(self.expr.asc() if self.ascending else self.expr.desc())
        return out

    def beyond(self, value: Any) -> ColumnElement[bool]:
        """Rows strictly after ``value`` in this term's order."""
        if value is None:
            return false()  # missing values come last and tie with each other
        after = self.expr > value if self.ascending else self.expr < value
        return or_(self.expr.is_(None), after) if self.nullable else after

    def same(self, value: Any) -> ColumnElement[bool]:
        return self.expr.is_(None) if value is None else self.expr == value

    def bound(self, value: Any) -> ColumnElement[bool] | None:
        """A redundant range bound the database can seek an index with, if there is one."""
        if self.nullable or value is None:
            return None
        return self.expr >= value if self.ascending else self.expr <= value


def after(terms: Sequence[Term], key: Sequence[Any]) -> ColumnElement[bool]:
    """Rows after sort key ``key`` in the order of ``terms`` (lexicographic)."""
    cond: ColumnElement[bool] = terms[-1].beyond(key[-1])
    for term, value in zip(reversed(terms[:-1]), reversed(key[:-1]), strict=True):
        cond = or_(term.beyond(value), and_(term.same(value), cond))
    bound = terms[0].bound(key[0])
    return cond if bound is None else and_(bound, cond)


def sort_key(row: Any, width: int) -> list[Any]:
    """The sort key of a result row (its last ``width`` columns)."""
    return list(row[len(row) - width :])
