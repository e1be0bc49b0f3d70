"""Deployments in the metadata store: apply a spec, read it back, list, roll back, delete.

The store keeps specs as plain JSON (``keel.store`` knows nothing of serving); this module
validates them on the way in and out and derives the traffic rows lineage queries use.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from keel.store.projects import existing_project

if TYPE_CHECKING:
    from keel.serving._source import LoadedModel
    from keel.serving._spec import DeploymentSpec
    from keel.store import Store
    from keel.store.deployments import Deployment, DeploymentRevision


def apply_spec(
    store: Store,
    project: str,
    spec: DeploymentSpec | str | os.PathLike[str] | Mapping[str, Any],
    *,
    note: str = "",
) -> tuple[Deployment, bool]:
    """Validate and store a spec as the deployment's newest revision (no-op if unchanged).

    Every model reference must resolve in the registry now, so a typo fails here and not
    in the server.
    """
    from keel.serving._source import RegistrySource
    from keel.serving._spec import DeploymentSpec, load_spec, targets_of

    spec = spec if isinstance(spec, DeploymentSpec) else load_spec(spec)
    source = RegistrySource(store, project)
    for ep in spec.endpoints:
        for v in ep.versions:
            source.resolve(v.ref)
    pid = store.projects.get_or_create(project).id
    return store.deployments.apply(pid, spec.name, spec.to_dict(), targets_of(spec), note=note)


def get_spec(store: Store, project: str, name: str, revision: int | None = None) -> DeploymentSpec:
    from keel.serving._spec import load_spec

    pid = existing_project(store.projects, project).id
    if revision is None:
        return load_spec(store.deployments.get(pid, name).spec)
    return load_spec(store.deployments.revision(pid, name, revision).spec)


def list_deployments(store: Store, project: str) -> list[Deployment]:
    return store.deployments.list(existing_project(store.projects, project).id)


def summary(dep: Deployment, now_ms: int | None = None) -> dict[str, Any]:
    """What listings add to a deployment: how it came to be, where and whether it serves."""
    from keel.serving._presence import liveness

    return {
        "kind": "ad hoc" if dep.adhoc else "applied",
        "address": dep.address,
        "applied_at": dep.applied_at,
        "last_seen": dep.last_seen,
        "liveness": liveness(dep, now_ms),
    }


def history(store: Store, project: str, name: str) -> list[DeploymentRevision]:
    return store.deployments.revisions(existing_project(store.projects, project).id, name)


def rollback(store: Store, project: str, name: str, revision: int) -> Deployment:
    return store.deployments.rollback(existing_project(store.projects, project).id, name, revision)


def delete(store: Store, project: str, name: str) -> None:
    store.deployments.delete(existing_project(store.projects, project).id, name)


def load_model(store: Store, project: str, ref: str, *, trust: str = "strict") -> LoadedModel:
    """Resolve ``ref`` (``churn@champion``, ``churn/3``) and load that version."""
    from keel.models._uri import parse_model_ref
    from keel.serving._source import RegistrySource

    parsed = parse_model_ref(ref)
    source = RegistrySource(store, project, trust=trust)
    return source.load(parsed.name, source.resolve(parsed))


__all__ = [
    "apply_spec",
    "delete",
    "get_spec",
    "history",
    "list_deployments",
    "load_model",
    "rollback",
    "summary",
]
