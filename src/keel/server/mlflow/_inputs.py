"""MLflow run inputs and outputs: logged datasets become keel dataset versions with lineage.

An MLflow dataset is a reference (name, digest, source, schema, profile), not files, so
it becomes a file-less keel dataset version of kind ``mlflow`` linked to the run as an
input; the MLflow fields are kept in its ``source`` so the run reads back the same.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import APIRouter, Depends

from keel.server._json import JSON
from keel.server.mlflow import _convert as conv
from keel.server.mlflow import _model_links as links
from keel.server.mlflow._context import Ctx, mlflow_writer
from keel.server.mlflow._logged_models import model_of_project
from keel.server.mlflow._schemas import DatasetInputIn, LogInputs, LogOutputs

router = APIRouter(tags=["mlflow runs"])


def _profile(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _log_dataset(ctx: Ctx, run_id: str, item: DatasetInputIn) -> None:
    ds = item.dataset
    store = ctx.st.store
    dataset = store.datasets.get_or_create(ctx.project_id, ds.name)
    fingerprint = json.dumps([ds.digest, ds.source_type, ds.source, ds.schema_, ds.profile])
    profile = _profile(ds.profile)
    num_rows = profile.get("num_rows")
    version, _created = store.datasets.add_version(
        dataset,
        content_hash=hashlib.sha256(fingerprint.encode()).hexdigest(),
        kind="mlflow",
        source={
            "type": ds.source_type,
            "uri": ds.source,
            "mlflow_digest": ds.digest,
            "mlflow_schema": ds.schema_,
            "mlflow_profile": ds.profile,
            "mlflow_tags": conv.from_kv(item.tags),
        },
        schema=[],
        profile=profile,
        num_rows=num_rows if isinstance(num_rows, int) and num_rows >= 0 else None,
        files=[],
        run_id=run_id,
    )
    store.runs.link_dataset(run_id, version.id, "input")


@router.post("/runs/log-inputs")
def log_inputs(body: LogInputs, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    run_id = ctx.run(body.id)
    for item in body.datasets:
        _log_dataset(ctx, run_id, item)
    if body.models:
        refs = [(model_of_project(ctx, m.model_id).id, 0) for m in body.models]
        links.add_run_models(ctx, run_id, links.MODEL_INPUTS_TAG, refs)
    return JSON({})


@router.post("/runs/outputs")
def log_outputs(body: LogOutputs, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    """A run's outputs: the logged models it names (of this project), with their step,
    besides the models whose source run it is."""
    run_id = ctx.run(body.id)
    refs = [(model_of_project(ctx, m.model_id).id, m.step) for m in body.models]
    if refs:
        links.add_run_models(ctx, run_id, links.MODEL_OUTPUTS_TAG, refs)
    return JSON({})
