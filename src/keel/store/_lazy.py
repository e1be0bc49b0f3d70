"""SQLAlchemy and the schema tables, imported on first use.

Importing SQLAlchemy and building the declarative schema costs about half a second of CPU
on a small machine, more than a whole command that only needs driver-level SQL (a fully
cached pipeline re-run, a run that logs a few metrics). Repository modules therefore name
SQLAlchemy through :data:`sa` and their tables through :class:`Tables`; the real import
happens the first time a method that builds a Core statement runs. Type checkers see the
real module (``if TYPE_CHECKING: import sqlalchemy as sa``).
"""

from __future__ import annotations

import importlib
from typing import Any


class LazyModule:
    """Stands for a module; the first attribute read imports it (thread-safe: the import
    system holds its lock, and every thread caches the same object)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        value = getattr(importlib.import_module(self._name), attr)
        setattr(self, attr, value)
        return value


class Tables:
    """Core tables of declarative row classes, built on first use:
    ``Tables(R="keel.store._schema:RunRow")`` then ``t.R.c.id``."""

    def __init__(self, **rows: str) -> None:
        self._rows = rows

    def __getattr__(self, name: str) -> Any:
        spec = self.__dict__.get("_rows", {}).get(name)
        if spec is None:
            raise AttributeError(name)
        module, cls = spec.split(":")
        value = getattr(importlib.import_module(module), cls).__table__
        setattr(self, name, value)
        return value


sa: Any = LazyModule("sqlalchemy")
