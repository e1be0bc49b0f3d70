"""Reference profiles: what "normal" looks like, stored once per model or dataset version.

A reference is a :class:`DatasetProfile` kept as a JSON blob (content-addressed, so two
identical profiles share storage) and named by a *subject*: ``model:churn/3`` for the data
a model version was trained on, ``dataset:customers@2`` for a dataset version, or any
name you choose. Monitors point at a subject.
"""

from __future__ import annotations

import threading
from typing import Any

from keel.exceptions import InvalidArgumentError
from keel.monitoring._profile import DatasetProfile, profile, profile_from_json
from keel.monitoring._serialize import profile_to_json
from keel.store import Store
from keel.store.entities import Project
from keel.store.monitors import ReferenceInfo

_CACHE: dict[str, DatasetProfile] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 32


def dataset_subject(ref: str) -> str:
    return ref if ref.startswith("dataset:") else f"dataset:{ref}"


def save_reference(
    store: Store, project_id: int, subject: str, reference: DatasetProfile, *, source: str = ""
) -> ReferenceInfo:
    """Store ``reference`` as the profile of ``subject`` (replacing an older one)."""
    blob = store.blobs.put_bytes(profile_to_json(reference).encode())
    return store.monitors.put_reference(
        project_id,
        subject,
        blob_sha=blob.sha,
        num_rows=reference.num_rows,
        num_columns=len(reference.columns),
        source=source,
    )


def load_reference(store: Store, project_id: int, subject: str) -> DatasetProfile:
    """The stored profile of ``subject`` (parsed once per process, verified by hash)."""
    info = store.monitors.get_reference(project_id, subject)
    with _CACHE_LOCK:
        cached = _CACHE.get(info.blob_sha)
    if cached is not None:
        return cached
    loaded = profile_from_json(store.blobs.read_bytes(info.blob_sha))
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[info.blob_sha] = loaded
    return loaded


def reference_from_data(
    store: Store,
    project_id: int,
    subject: str,
    data: Any,
    *,
    source: str = "",
    columns: list[str] | None = None,
) -> ReferenceInfo:
    """Profile a DataFrame or Arrow table and store it as ``subject``'s reference."""
    if not subject.strip():
        raise InvalidArgumentError("a reference needs a subject, e.g. 'model:churn/3'")
    return save_reference(store, project_id, subject, profile(data, columns=columns), source=source)


def reference_from_dataset(
    store: Store,
    project: Project,
    dataset_ref: str,
    *,
    subject: str | None = None,
    columns: list[str] | None = None,
) -> ReferenceInfo:
    """Profile a table version of a dataset (``customers@2``) and store it as a reference."""
    from keel.data import DatasetClient

    client = DatasetClient(store, project)
    version = client.get(dataset_ref)
    table = client.load_arrow(version.ref)
    return reference_from_data(
        store,
        project.id,
        subject or dataset_subject(version.ref),
        table,
        source=f"dataset:{version.ref}",
        columns=columns,
    )


def reference_from_model(store: Store, project: Project, model_ref: str) -> ReferenceInfo:
    """Profile the dataset a registered model version was trained on (its lineage), limited to
    the model's input columns, as the reference ``model:<name>/<version>``.

    ``model_ref`` is ``name/3``, ``name@alias`` or ``name`` (the newest version).
    """
    version = _model_version(store, project.id, model_ref)
    if not version.datasets:
        raise InvalidArgumentError(
            f"model {version.ref} records no training dataset in its lineage; build the "
            f"reference from data with --dataset NAME@VERSION or --file PATH"
        )
    inputs = [str(i["name"]) for i in (version.signature or {}).get("inputs", []) if "name" in i]
    return reference_from_dataset(
        store,
        project,
        version.datasets[0],
        subject=f"model:{version.name}/{version.version}",
        columns=inputs or None,
    )


def _model_version(store: Store, project_id: int, ref: str) -> Any:
    if "@" in ref:
        name, alias = ref.split("@", 1)
        return store.registry.get_by_alias(project_id, name, alias)
    if "/" in ref:
        name, number = ref.rsplit("/", 1)
        if not number.isdigit():
            raise InvalidArgumentError(f"model reference {ref!r}: write name/3, name@alias or name")
        return store.registry.get_version(project_id, name, int(number))
    return store.registry.latest_version(project_id, ref)
