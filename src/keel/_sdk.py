"""Root-level glue for ``keel.log_dataset`` and friends: tracking and data, joined.

``keel.tracking`` and ``keel.data`` must not import each other; this module sits above both,
so ``keel.log_dataset(...)`` can use the process's default client and its active run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from keel.data import DatasetClient
    from keel.store import DatasetVersion
    from keel.tracking import ActiveRun


def _datasets(*, create: bool = False) -> DatasetClient:
    """The default client's datasets: a write (``create``) makes its project, a read needs
    it to exist (a misspelt project is an error naming it, not a new empty one)."""
    from keel.data import DatasetClient
    from keel.tracking import get_client

    client = get_client()
    return DatasetClient(client.store, client.project if create else client.existing_project())


def log_dataset(
    name: str,
    source: Any,
    *,
    run: ActiveRun | str | None = None,
    description: str = "",
) -> DatasetVersion:
    """Register ``source`` (path, DataFrame, Arrow table, ``SqlQuery``) as a dataset version.

    The version is linked as an input of ``run`` (an ``ActiveRun`` or run id) or, when none
    is given, of the active run if there is one.
    """
    from keel.tracking import active_run

    if run is None:
        run = active_run()
    run_id = run if isinstance(run, str) or run is None else run.id
    return _datasets(create=True).log(name, source, description=description, run_id=run_id)


def get_dataset(ref: str) -> DatasetVersion:
    """A dataset version by reference: ``"name"`` (newest) or ``"name@3"``."""
    return _datasets().get(ref)


def load_dataset(ref: str) -> pd.DataFrame:
    """A table dataset version as a pandas DataFrame."""
    return _datasets().load(ref)


__all__ = ["get_dataset", "load_dataset", "log_dataset"]
