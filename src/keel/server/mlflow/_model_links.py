"""What MLflow links to logged models and keel has no column for: a run's model inputs and
outputs (with their step), metrics logged against a model, and a model's source run that
keel does not know here. They live in tags under ``mlflow.keel.``, which the MLflow API
hides from every tag list it returns.
"""

from __future__ import annotations

import json
from typing import Any

from keel.exceptions import InvalidArgumentError
from keel.server.mlflow._context import Ctx
from keel.store.logged_models import LoggedModel

HIDDEN_PREFIX = "mlflow.keel."
MODEL_INPUTS_TAG = "mlflow.keel.modelInputs"
MODEL_OUTPUTS_TAG = "mlflow.keel.modelOutputs"
METRICS_TAG = "mlflow.keel.metrics"
SOURCE_RUN_TAG = "mlflow.keel.sourceRunId"
_MAX_JSON = 60_000  # under keel's tag value limit


def visible(tags: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in tags.items() if not k.startswith(HIDDEN_PREFIX)}


def _load(raw: str | None) -> list[Any]:
    try:
        data = json.loads(raw) if raw else []
    except ValueError:
        return []
    return data if isinstance(data, list) else []


def _dump(items: list[Any], what: str) -> str:
    text = json.dumps(items, separators=(",", ":"))
    if len(text) > _MAX_JSON:
        raise InvalidArgumentError(f"too many {what} on one object for the MLflow API to keep")
    return text


def add_run_models(ctx: Ctx, run_id: str, tag: str, refs: list[tuple[str, int]]) -> None:
    """Record logged models as a run's inputs or outputs (``tag``), each with its step."""
    current = ctx.st.store.runs.get(run_id).tags.get(tag)
    items = [tuple(x) for x in _load(current)]
    for ref in refs:
        if ref not in items:
            items.append(ref)
    ctx.st.store.runs.set_tags(run_id, {tag: _dump([list(i) for i in items], "models")})


def run_models(tags: dict[str, str], tag: str) -> list[dict[str, Any]]:
    return [{"model_id": str(m), "step": int(s)} for m, s in _load(tags.get(tag))]


def add_model_metric(ctx: Ctx, model: LoggedModel, entry: dict[str, Any]) -> None:
    """Keep the latest value per (key, run, dataset) of a metric logged against a model."""
    ident = [entry.get(k) for k in ("key", "run_id", "dataset_name", "dataset_digest")]
    metrics = [
        m
        for m in _load(model.tags.get(METRICS_TAG))
        if [m.get(k) for k in ("key", "run_id", "dataset_name", "dataset_digest")] != ident
    ]
    metrics.append(entry)
    ctx.st.store.logged_models.set_tags(model.id, {METRICS_TAG: _dump(metrics, "metrics")})


def model_metrics(m: LoggedModel) -> list[dict[str, Any]]:
    return [x for x in _load(m.tags.get(METRICS_TAG)) if isinstance(x, dict)]


def source_run_id(m: LoggedModel) -> str | None:
    return m.source_run_id or m.tags.get(SOURCE_RUN_TAG) or None


__all__ = [
    "METRICS_TAG",
    "MODEL_INPUTS_TAG",
    "MODEL_OUTPUTS_TAG",
    "SOURCE_RUN_TAG",
    "add_model_metric",
    "add_run_models",
    "model_metrics",
    "run_models",
    "source_run_id",
    "visible",
]
