"""Which of MLflow's REST tests keel fails on purpose, and why (README.md explains each)."""

from __future__ import annotations

#: test function name -> the reason keel fails it on purpose.
KNOWN_FAILURES: dict[str, str] = {}

#: tests of the MLflow UI's private endpoints (``/ajax-api``, ``/graphql``), reported apart.
UI_PRIVATE: tuple[str, ...] = (
    r"graphql",
    r"get_metric_history_bulk",
    r"search_dataset_handler",
    r"upload_artifact_handler",
)
