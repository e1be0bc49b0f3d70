"""Import every schema module so ``Base.metadata`` holds all tables.

Each feature area keeps its rows in its own ``_schema_<area>.py``; add the import here.
Migrations (autogenerate) and garbage collection read the metadata through this module.
"""

from __future__ import annotations

from keel.store._schema import Base

__all__ = ["Base"]
