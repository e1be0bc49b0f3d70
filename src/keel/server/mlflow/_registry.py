"""MLflow's model registry onto keel's: registered models, versions, aliases, stages, tags.

A version created through the mlflow client becomes an ordinary keel registry version
(flavor ``mlflow``): its files (a logged model's, or a run's artifact folder) are packed
into one tar blob, so the version is self-contained and survives ``keel gc``; the MLflow
``source`` is kept in its lineage and answers ``get-download-uri``. The source must be a
model or run of this project (``models:/<id>``, ``runs:/<run>/<path>`` or
``mlflow-artifacts:/...``); anything else (``file://``, ``//host``, ``..``) is a 400.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, Query

from keel.exceptions import AlreadyExistsError, InvalidArgumentError, NotFoundError
from keel.server._json import JSON
from keel.server._types import Name, Text
from keel.server.mlflow import _convert as conv
from keel.server.mlflow import _model_links as links
from keel.server.mlflow._context import Ctx, mlflow_reader, mlflow_writer
from keel.server.mlflow._paging import check_max, page
from keel.server.mlflow._pyfilter import matches
from keel.server.mlflow._schemas import (
    AliasIn,
    AliasRef,
    LatestIn,
    ModelIn,
    ModelPatch,
    ModelRename,
    ModelTag,
    ModelTagRef,
    RegisteredModelRef,
    StageIn,
    VersionIn,
    VersionPatch,
    VersionRef,
    VersionTag,
    VersionTagRef,
)
from keel.server.mlflow._sources import (
    artifact_uri,
    check_source,
    check_uri,
    pack,
    source_files,
)
from keel.store import ModelVersion, NewVersion, RegisteredModel
from keel.store.filters import Vocabulary, parse_filter

router = APIRouter(tags=["mlflow model registry"])
STAGE_TAG = "mlflow.keel.stage"
#: when a version last changed through the MLflow API (keel's versions keep no such column)
UPDATED_TAG = "mlflow.keel.updatedAt"
VERSIONS_TAG = "mlflow.modelVersions"
STAGES = ("None", "Staging", "Production", "Archived")
_MODELS = Vocabulary("registered model", {"name": "name"}, frozenset())
_VERSIONS = Vocabulary(
    "model version",
    {
        "name": "name",
        "version": "version",
        "run_id": "run_id",
        "source": "source",
        "source_path": "source",
    },
    frozenset({"version"}),
)


def _num(version: str) -> int:
    if not version.strip().isdigit() or len(version) > 9:
        raise InvalidArgumentError(f"Parameter 'version' must be an integer, got '{version[:40]}'.")
    return int(version)


def _model(ctx: Ctx, name: str) -> RegisteredModel:
    """A registered model of this project, or MLflow's "not found" (its clients match it)."""
    try:
        return ctx.st.store.registry.get_model(ctx.project_id, name)
    except NotFoundError as exc:
        raise NotFoundError(f"Registered Model with name={name} not found") from exc


def _version(ctx: Ctx, name: str, version: str) -> ModelVersion:
    _model(ctx, name)
    number = _num(version)
    try:
        return ctx.st.store.registry.get_version(ctx.project_id, name, number)
    except NotFoundError as exc:
        raise NotFoundError(f"Model Version (name={name}, version={number}) not found") from exc


@contextmanager
def _exists_as_mlflow_says(name: str) -> Iterator[None]:
    try:
        yield
    except AlreadyExistsError as exc:
        raise AlreadyExistsError(f"Registered Model (name={name}) already exists.") from exc


def version_json(v: ModelVersion, user: str = "") -> dict[str, Any]:
    tags = links.visible(v.tags)
    out: dict[str, Any] = {
        "name": v.name,
        "version": str(v.version),
        "creation_timestamp": v.created_at,
        "last_updated_timestamp": _updated_at(v),
        "user_id": user,
        "current_stage": v.tags.get(STAGE_TAG, "None"),
        "description": v.description,
        "source": v.lineage.get("mlflow_source", v.source),
        "run_id": v.lineage.get("mlflow_run_id") or v.run_id or "",
        "status": "READY",
        "tags": conv.kv(tags),
        "aliases": list(v.aliases),
    }
    if v.lineage.get("mlflow_model_id"):
        out["model_id"] = v.lineage["mlflow_model_id"]
    return out


def _updated_at(v: ModelVersion) -> int:
    stamp = v.tags.get(UPDATED_TAG, "")
    return int(stamp) if stamp.isdigit() else v.created_at


def _touch(ctx: Ctx, version_id: int, tags: dict[str, str] | None = None) -> None:
    """Set ``tags`` on a version and note the time it changed."""
    stamp = str(time.time_ns() // 1_000_000)
    ctx.st.store.registry.set_version_tags(version_id, {**(tags or {}), UPDATED_TAG: stamp})


def _touch_model(ctx: Ctx, name: str) -> None:
    """A new, deleted or re-staged version changes its model (MLflow's last_updated)."""
    stamp = str(time.time_ns() // 1_000_000)
    ctx.st.store.registry.set_model_tags(ctx.project_id, name, {UPDATED_TAG: stamp})


def model_json(ctx: Ctx, m: RegisteredModel) -> dict[str, Any]:
    latest = _latest(ctx, m.name, []) if m.latest_version is not None else []
    stamp = m.tags.get(UPDATED_TAG, "")
    return {
        "name": m.name,
        "creation_timestamp": m.created_at,
        "last_updated_timestamp": max(m.updated_at, int(stamp) if stamp.isdigit() else 0),
        "description": m.description,
        "latest_versions": [version_json(v) for v in latest],
        "tags": conv.kv(links.visible(m.tags)),
        "aliases": [{"alias": a, "version": str(v)} for a, v in m.aliases.items()],
    }


def _latest(ctx: Ctx, name: str, stages: list[str]) -> list[ModelVersion]:
    wanted = [s.capitalize() if s.lower() != "none" else "None" for s in stages] or list(STAGES)
    best: dict[str, ModelVersion] = {}
    for v in ctx.st.store.registry.versions(ctx.project_id, name):
        stage = v.tags.get(STAGE_TAG, "None")
        if stage in wanted:
            best[stage] = v
    return sorted(best.values(), key=lambda v: v.version)


# -- registered models ---------------------------------------------------------------------
@router.post("/registered-models/create")
def create_model(body: ModelIn, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    with _exists_as_mlflow_says(body.name):
        model = ctx.st.store.registry.create_model(
            ctx.project_id, body.name, description=body.description, tags=conv.from_kv(body.tags)
        )
    return JSON({"registered_model": model_json(ctx, model)})


@router.get("/registered-models/get")
def get_model(name: Name, ctx: Ctx = Depends(mlflow_reader)) -> JSON:
    return JSON({"registered_model": model_json(ctx, _model(ctx, name))})


@router.patch("/registered-models/update")
def update_model(body: ModelPatch, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    reg = ctx.st.store.registry
    model = _model(ctx, body.name)
    if body.description is not None:
        model = reg.update_model(ctx.project_id, body.name, description=body.description)
    return JSON({"registered_model": model_json(ctx, model)})


@router.post("/registered-models/rename")
def rename_model(body: ModelRename, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    _model(ctx, body.name)
    with _exists_as_mlflow_says(body.new_name):
        model = ctx.st.store.registry.rename_model(ctx.project_id, body.name, body.new_name)
    return JSON({"registered_model": model_json(ctx, model)})


@router.delete("/registered-models/delete")
def delete_model(body: RegisteredModelRef, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    ctx.st.store.registry.delete_model(ctx.project_id, _model(ctx, body.name).name)
    return JSON({})


@router.get("/registered-models/search")
def search_models(
    filter: Text | None = None,
    max_results: int = Query(default=100, ge=1),
    order_by: list[Text] = Query(default=[]),
    page_token: Text | None = None,
    ctx: Ctx = Depends(mlflow_reader),
) -> JSON:
    check_max(ctx, max_results)
    expr = parse_filter(filter, _MODELS)
    models = ctx.st.store.registry.list_models(ctx.project_id)
    if expr is not None:
        models = [m for m in models if matches(expr, {"name": m.name}, m.tags)]
    if any("timestamp" in o for o in order_by):
        desc = any("desc" in o.lower() for o in order_by)
        models.sort(key=lambda m: m.updated_at, reverse=desc)
    convert = partial(model_json, ctx)
    return JSON(page(models, "registered_models", page_token, max_results, convert))


@router.post("/registered-models/get-latest-versions")
def latest_versions(body: LatestIn, ctx: Ctx = Depends(mlflow_reader)) -> JSON:
    _model(ctx, body.name)
    versions = _latest(ctx, body.name, body.stages)
    return JSON({"model_versions": [version_json(v) for v in versions]})


@router.post("/registered-models/set-tag")
def set_model_tag(body: ModelTag, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    _model(ctx, body.name)
    ctx.st.store.registry.set_model_tags(ctx.project_id, body.name, {body.key: body.value})
    return JSON({})


@router.delete("/registered-models/delete-tag")
def delete_model_tag(body: ModelTagRef, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    _model(ctx, body.name)
    ctx.st.store.registry.delete_model_tag(ctx.project_id, body.name, body.key)
    return JSON({})


@router.post("/registered-models/alias")
def set_alias(body: AliasIn, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    reg = ctx.st.store.registry
    version = _version(ctx, body.name, body.version)
    reg.set_alias(ctx.project_id, body.name, body.alias, version.id)
    return JSON({})


@router.delete("/registered-models/alias")
def delete_alias(body: AliasRef, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    ctx.st.store.registry.delete_alias(ctx.project_id, body.name, body.alias)
    return JSON({})


@router.get("/registered-models/alias")
def get_by_alias(name: Name, alias: Name, ctx: Ctx = Depends(mlflow_reader)) -> JSON:
    version = ctx.st.store.registry.get_by_alias(ctx.project_id, name, alias)
    return JSON({"model_version": version_json(version)})


# -- model versions ------------------------------------------------------------------------
@router.post("/model-versions/create")
def create_version(body: VersionIn, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    run_id = ctx.known_run(body.run_id)  # one keel does not know here: a reference only
    copied = _copied(ctx, body.source)
    if copied is not None:  # copy_model_version: the same package, no second copy of files
        blob, size, manifest = copied.blob_sha, copied.size, copied.manifest_sha
        model_id = copied.lineage.get("mlflow_model_id")
        source_run, packed = copied.run_id, True
    else:
        files, model_id, source_run = source_files(ctx, body.source)
        blob, size, manifest = pack(ctx, files)
        packed = bool(files)
    lineage = {
        "mlflow_source": body.source,
        "mlflow_model_id": model_id or body.model_id,
        "mlflow_run_id": body.run_id or source_run or "",
        "mlflow_packed": packed,
        "mlflow_copy_of": copied.id if copied is not None else None,
    }
    new = NewVersion(
        blob_sha=blob,
        size=size,
        manifest_sha=manifest,
        flavor="mlflow",
        serve_flavor="mlflow",
        task="",
        source="mlflow",
        run_id=run_id or source_run,
        description=body.description,
        lineage=lineage,
        tags=conv.from_kv(body.tags),
    )
    version = ctx.st.store.registry.create_version(ctx.project_id, body.name, new)
    _touch_model(ctx, body.name)
    if model_id:  # MLflow lists a logged model's registered versions in a tag of it
        _note_version(ctx, model_id, version)
    return JSON({"model_version": version_json(version, ctx.guard.who.name)})


@router.get("/model-versions/get")
def get_version(name: Name, version: Text, ctx: Ctx = Depends(mlflow_reader)) -> JSON:
    found = _version(ctx, name, version)
    return JSON({"model_version": version_json(found)})


@router.patch("/model-versions/update")
def update_version(body: VersionPatch, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    reg = ctx.st.store.registry
    found = _version(ctx, body.name, body.version)
    if body.description is not None:
        reg.update_version(found.id, description=body.description)
        _touch(ctx, found.id)
        found = reg.get_version_by_id(found.id)
    return JSON({"model_version": version_json(found)})


@router.delete("/model-versions/delete")
def delete_version(body: VersionRef, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    reg = ctx.st.store.registry
    reg.delete_version(_version(ctx, body.name, body.version).id)
    _touch_model(ctx, body.name)
    return JSON({})


@router.get("/model-versions/search")
def search_versions(
    filter: Text | None = None,
    max_results: int = Query(default=10_000, ge=1),
    order_by: list[Text] = Query(default=[]),
    page_token: Text | None = None,
    ctx: Ctx = Depends(mlflow_reader),
) -> JSON:
    check_max(ctx, max_results)
    expr = parse_filter(filter, _VERSIONS)
    reg = ctx.st.store.registry
    found = [
        v
        for m in reg.list_models(ctx.project_id)
        for v in reg.versions(ctx.project_id, m.name)
        if expr is None or matches(expr, _version_attrs(v), v.tags)
    ]
    found = _ordered_versions(found, order_by)
    return JSON(page(found, "model_versions", page_token, max_results, version_json))


@router.get("/model-versions/get-download-uri")
def download_uri(name: Name, version: Text, ctx: Ctx = Depends(mlflow_reader)) -> JSON:
    found = _version(ctx, name, version)
    return JSON({"artifact_uri": artifact_uri(ctx, found)})


@router.post("/model-versions/transition-stage")
def transition_stage(body: StageIn, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    stage = next((s for s in STAGES if s.lower() == body.stage.lower()), None)
    if stage is None:
        raise InvalidArgumentError(f"stage {body.stage[:40]!r} is not one of {', '.join(STAGES)}")
    reg = ctx.st.store.registry
    found = _version(ctx, body.name, body.version)
    if body.archive_existing_versions and stage in ("Staging", "Production"):
        for other in reg.versions(ctx.project_id, body.name):
            if other.id != found.id and other.tags.get(STAGE_TAG) == stage:
                _touch(ctx, other.id, {STAGE_TAG: "Archived"})
    _touch(ctx, found.id, {STAGE_TAG: stage})
    _touch_model(ctx, body.name)
    return JSON({"model_version": version_json(reg.get_version_by_id(found.id))})


@router.post("/model-versions/set-tag")
def set_version_tag(body: VersionTag, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    found = _version(ctx, body.name, body.version)
    _touch(ctx, found.id, {body.key: body.value})
    return JSON({})


@router.delete("/model-versions/delete-tag")
def delete_version_tag(body: VersionTagRef, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    reg = ctx.st.store.registry
    found = _version(ctx, body.name, body.version)
    reg.delete_version_tag(found.id, body.key)
    _touch(ctx, found.id)
    return JSON({})


_VERSION_ORDER = {
    "name": lambda v: v.name,
    "version_number": lambda v: v.version,
    "creation_timestamp": lambda v: v.created_at,
    "last_updated_timestamp": _updated_at,
}


def _ordered_versions(found: list[ModelVersion], order_by: list[str]) -> list[ModelVersion]:
    """MLflow's order: the clauses given (newest change first if none), then name, then
    the newest version first."""
    found = sorted(found, key=lambda v: (v.name, -v.version))
    for clause in reversed(order_by or ["last_updated_timestamp DESC"]):
        parts = clause.strip().split()
        key = _VERSION_ORDER.get(parts[0].removeprefix("attributes.")) if parts else None
        if key is None or len(parts) > 2:
            raise InvalidArgumentError(
                f"cannot order model versions by {clause[:100]!r}; use "
                f"{', '.join(_VERSION_ORDER)}, optionally with ASC or DESC"
            )
        found = sorted(found, key=key, reverse=len(parts) > 1 and parts[1].upper() == "DESC")
    return found


def _copied(ctx: Ctx, source: str) -> ModelVersion | None:
    """The registered version a ``models:/<name>/<version>`` or ``models:/<name>@<alias>``
    source names (``models:/<id>`` alone is a logged model)."""
    rest = source.removeprefix("models:/")
    if rest == source or ("/" not in rest and "@" not in rest):
        return None
    check_source(source)  # no "..", escapes or tricks before any lookup
    check_uri(source, "model version source")
    if "/" in rest:
        name, _, number = rest.rpartition("/")
        return _version(ctx, name, number)
    name, _, alias = rest.rpartition("@")
    _model(ctx, name)
    return ctx.st.store.registry.get_by_alias(ctx.project_id, name, alias)


def _note_version(ctx: Ctx, model_id: str, version: ModelVersion) -> None:
    model = ctx.st.store.logged_models.get(model_id)
    try:
        entries = json.loads(model.tags.get(VERSIONS_TAG) or "[]")
    except ValueError:
        entries = []
    entries.append({"name": version.name, "version": version.version})
    ctx.st.store.logged_models.set_tags(model_id, {VERSIONS_TAG: json.dumps(entries)})


def _version_attrs(v: ModelVersion) -> dict[str, object]:
    source = v.lineage.get("mlflow_source", v.source)
    run_id = v.lineage.get("mlflow_run_id") or v.run_id or ""
    return {"name": v.name, "version": v.version, "run_id": run_id, "source": source}
