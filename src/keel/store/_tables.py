"""Import every schema module so ``Base.metadata`` holds all tables.

Each feature area keeps its rows in its own ``_schema_<area>.py``; add the import here.
Migrations (autogenerate) and garbage collection read the metadata through this module.
"""

from __future__ import annotations

from keel.store import _schema_auth as _schema_auth
from keel.store import _schema_comments as _schema_comments
from keel.store import _schema_deployments as _schema_deployments
from keel.store import _schema_labeling as _schema_labeling
from keel.store import _schema_monitoring as _schema_monitoring
from keel.store import _schema_pipelines as _schema_pipelines
from keel.store import _schema_registry as _schema_registry
from keel.store import _schema_reports as _schema_reports
from keel.store import _schema_sweeps as _schema_sweeps
from keel.store._schema import Base

__all__ = ["Base"]
