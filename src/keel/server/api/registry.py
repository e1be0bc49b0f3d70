"""``/api/v1/projects/{id}/models`` and ``/api/v1/model-versions``: the model registry.

Model names, aliases and tag keys travel in the query string or the body (never as path
segments), so any string reaches the repository, which validates it and names the value.
A version addressed by id is checked against the caller's projects first: another
project's version does not exist for you.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends
from pydantic import BaseModel, Field, StringConstraints

from keel.exceptions import InvalidArgumentError, NotFoundError
from keel.server._auth import Guard, reader, writer
from keel.server._receipts import check_reference
from keel.server._types import Id, Int64, Key, Loose, Name, RunId, Sha, Text
from keel.server.api._passthrough import Router
from keel.store.registry import ModelVersion, NewVersion, RegisteredModel
from keel.store.wire import envelope

router = Router(prefix="/api/v1", tags=["model registry"])
MODELS = "/projects/{project_id}/models"
VERSION = "/model-versions/{version_id}"

#: The widths of the registry's string columns, so PostgreSQL never sees a longer value.
Str16 = Annotated[str, StringConstraints(max_length=16)]
Str32 = Annotated[str, StringConstraints(max_length=32)]
Str64 = Annotated[str, StringConstraints(max_length=64)]


class ModelIn(BaseModel):
    name: Loose
    description: Loose = ""
    tags: dict[Loose, Loose] = {}


class ModelRef(BaseModel):
    name: Loose


class ModelPatch(BaseModel):
    name: Loose
    description: Loose


class ModelRename(BaseModel):
    name: Loose
    new_name: Loose


class ModelTags(BaseModel):
    name: Loose
    tags: dict[Loose, Loose]


class VersionIn(BaseModel):
    """A :class:`~keel.store.NewVersion` of model ``name``, with the package's upload
    receipt (``PUT /api/v1/blobs``) in ``receipts``."""

    name: Loose
    receipts: dict[Sha, Text] = {}
    blob_sha: Sha
    size: Int64
    manifest_sha: Sha
    flavor: Str32
    serve_flavor: Str32
    task: Str32
    source: Str16 = "logged"
    run_id: RunId | None = None
    semver: Str64 | None = None
    signer: Str64 | None = None
    description: Loose = ""
    frameworks: dict[Loose, Loose] = {}
    signature: dict[str, Any] = {}
    lineage: dict[str, Any] = {}
    card: dict[str, Any] = {}
    metrics: dict[Key, float] = {}
    tags: dict[Loose, Loose] = {}
    datasets: list[tuple[Name, Id]] = Field(default=[], max_length=10_000)


class VersionPatch(BaseModel):
    description: Loose | None = None
    card: dict[str, Any] | None = None


class VersionTags(BaseModel):
    tags: dict[Loose, Loose]


class AliasIn(BaseModel):
    name: Loose
    alias: Loose
    version_id: Id


class SearchIn(BaseModel):
    filter: Loose | None = None
    max_results: Int64 = 1000


# -- registered models ---------------------------------------------------------------------
router.serve(reader, "registry.list_models")


@router.post(MODELS)
def create_model(project_id: Id, body: ModelIn, guard: Guard = Depends(writer)) -> RegisteredModel:
    return guard.st.store.registry.create_model(
        project_id, body.name, description=body.description, tags=body.tags
    )


router.serve(writer, "registry.get_or_create_model", body=ModelRef)
router.serve(reader, "registry.get_model")
router.serve(writer, "registry.update_model", body=ModelPatch)
router.serve(writer, "registry.rename_model", body=ModelRename)
router.serve(writer, "registry.delete_model")
router.serve(writer, "registry.set_model_tags", body=ModelTags)
router.serve(writer, "registry.delete_model_tag")


# -- versions of a model -------------------------------------------------------------------
@router.post(f"{MODELS}/versions")
def create_version(project_id: Id, body: VersionIn, guard: Guard = Depends(writer)) -> ModelVersion:
    """Register an uploaded package blob as the next version of ``body.name``."""
    st = guard.st
    check_reference(st, guard.who, body.blob_sha, body.receipts.get(body.blob_sha))
    if not st.store.blobs.exists(body.blob_sha):
        raise NotFoundError(f"blob {body.blob_sha} is not on the server; upload the package first")
    if body.run_id is not None:
        guard.run(body.run_id)
    new = NewVersion(**body.model_dump(exclude={"name", "receipts"}))
    return st.store.registry.create_version(project_id, body.name, new)


router.serve(reader, "registry.versions", "list_versions")
router.serve(reader, "registry.get_version")
router.serve(reader, "registry.latest_version")


# -- aliases -------------------------------------------------------------------------------
router.serve(reader, "registry.get_by_alias")


@router.put(f"{MODELS}/alias")
def set_alias(project_id: Id, body: AliasIn, guard: Guard = Depends(writer)) -> ModelVersion:
    guard.model_version(body.version_id)
    return guard.st.store.registry.set_alias(project_id, body.name, body.alias, body.version_id)


router.serve(writer, "registry.delete_alias")


# -- search --------------------------------------------------------------------------------
@router.post(
    "/projects/{project_id}/model-versions/search",
    response_model=envelope("versions", list[ModelVersion]),
)
def search_versions(
    project_id: Id, body: SearchIn, guard: Guard = Depends(reader)
) -> dict[str, Any]:
    cap = guard.st.options.max_results
    if body.max_results > cap:
        raise InvalidArgumentError(
            f"max_results {body.max_results} is over this server's cap of {cap}; narrow the filter"
        )
    found = guard.st.store.registry.search_versions(
        project_id, body.filter, max_results=body.max_results
    )
    return {"versions": found}


# -- one version, by id --------------------------------------------------------------------
router.serve(reader, "registry.get_version_by_id", owner=Guard.model_version)
router.serve(writer, "registry.update_version", body=VersionPatch, owner=Guard.model_version)
router.serve(writer, "registry.delete_version", owner=Guard.model_version)
router.serve(writer, "registry.set_version_tags", body=VersionTags, owner=Guard.model_version)
router.serve(writer, "registry.delete_version_tag", owner=Guard.model_version)
