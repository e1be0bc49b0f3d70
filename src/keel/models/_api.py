"""The short SDK: ``keel.log_model``, ``keel.models.save`` and ``keel.models.load``.

Functions without a ``store`` argument use the process's default tracking client
(:func:`keel.tracking.get_client`), like ``keel.start_run`` does.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.exceptions import InvalidArgumentError, NotFoundError
from keel.models._archive import unpack
from keel.models._manifest import MANIFEST_FILE, Manifest
from keel.models._package import LoadedModel, SaveOptions, load_package, save_package
from keel.models._registry import Registry, default_keyring
from keel.models._signing import Keyring
from keel.models._uri import parse_run_uri
from keel.store import ModelVersion, Store
from keel.store.paths import safe_relpath

if TYPE_CHECKING:
    from keel.tracking import ActiveRun


@dataclass(frozen=True)
class ModelInfo:
    """What ``log_model`` recorded: the manifest, where the files are, and the version."""

    manifest: Manifest
    run_id: str
    artifact_path: str
    version: ModelVersion | None

    @property
    def uri(self) -> str:
        return f"runs:/{self.run_id}/{self.artifact_path}"

    def __repr__(self) -> str:
        where = self.version.ref if self.version is not None else self.uri
        return f"ModelInfo({where}, {self.manifest.flavor}, {self.manifest.signature.brief()})"


def _store_and_project(store: Store | None, project: str | None) -> tuple[Store, str]:
    if store is not None:
        return store, project or store.settings.project
    from keel.tracking import get_client

    client = get_client()
    return client.store, project or client.project_name


def save(
    model: Any,
    path: str | os.PathLike[str],
    *,
    input_example: Any,
    keyring: Keyring | None = None,
    sign: bool | None = None,
    **options: Any,
) -> Manifest:
    """Write ``model`` as a package folder at ``path``; see :class:`SaveOptions` for options.

    ``sign=None`` signs when ``keyring`` holds a signing key.
    """
    return save_package(
        model, path, input_example, SaveOptions(**options), keyring=keyring, sign=sign
    )


def load(
    uri: str | os.PathLike[str],
    *,
    store: Store | None = None,
    project: str | None = None,
    trust: str = "strict",
    keyring: Keyring | None = None,
    allow_pickle: bool = False,
    trusted_types: Sequence[str] = (),
    flavor: str | None = None,
) -> LoadedModel:
    """Load a model from a folder, an archive, ``models:/name@alias`` or ``runs:/id/path``.

    Every load verifies the package (the sha256 of every file, and the signature per
    ``trust``) and scans it for pickle-family files before loading anything. ``strict``
    (the default) refuses packages that are unsigned or signed by a key this machine does
    not trust; ``warn`` loads them with a warning and ``off`` skips the signature check;
    both are explicit opt-outs. This machine's own key (``keel keys generate``, or the one
    ``log_model`` creates on first use) is trusted for the packages it signs.
    """
    opts: dict[str, Any] = {
        "trust": trust,
        "allow_pickle": allow_pickle,
        "trusted_types": trusted_types,
        "flavor": flavor,
    }
    text = str(uri)
    if text.startswith("models:/"):
        st, proj = _store_and_project(store, project)
        return Registry(st, proj, keyring).load(text, **opts)
    if text.startswith("runs:/"):
        st, _proj = _store_and_project(store, project)
        folder = _fetch_run_model(st, text)
        return load_package(folder, keyring=keyring or default_keyring(st), **opts)
    path = Path(text)
    if not path.exists():
        raise NotFoundError(f"no model at {text!r}: not a folder, an archive or a models:/ URI")
    if keyring is None:
        st, _proj = _store_and_project(store, project)
        keyring = default_keyring(st)
    if path.is_file():
        # Every flavor reads its files while loading, so the unpacked copy can go after.
        with tempfile.TemporaryDirectory(prefix="keel-model-") as tmp:
            return load_package(unpack(path, Path(tmp) / "package"), keyring=keyring, **opts)
    return load_package(path, keyring=keyring, **opts)


def _fetch_run_model(store: Store, uri: str) -> Path:
    """The run's package folder in the local cache, keyed by its manifest's content hash."""
    ref = parse_run_uri(uri)
    items = store.artifacts.list(ref.run_id, ref.path)
    prefix = ref.path.rstrip("/") + "/"
    manifest = next((a for a in items if a.path == prefix + MANIFEST_FILE), None)
    if manifest is None:
        raise NotFoundError(f"run {ref.run_id!r} has no model package at {ref.path!r} ({uri})")
    folder = _cache(store) / "runs" / manifest.blob_sha
    if (folder / MANIFEST_FILE).exists():
        return folder  # verified again by the load that follows, like any package
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
        staged = Path(tmp) / "package"
        for art in items:
            store.blobs.download(art.blob_sha, staged / safe_relpath(art.path[len(prefix) :]))
        try:
            os.replace(staged, folder)
        except OSError:
            if not (folder / MANIFEST_FILE).exists():
                raise
    return folder


def _cache(store: Store) -> Path:
    path = store.settings.cache_dir / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_model(
    model: Any,
    name: str = "model",
    *,
    input_example: Any,
    registered_model_name: str | None = None,
    run: Any = None,
    sign: bool | None = None,
    semver: str | None = None,
    tags: Mapping[str, str] | None = None,
    **options: Any,
) -> ModelInfo:
    """Package ``model`` into a run's artifacts at ``name``, and register it if asked.

    The run is ``run`` (an ``ActiveRun``, a ``Run`` or a run id of this project) or else the
    active run; inside a pipeline step that is the step's run. The manifest records the
    run's git commit, dataset versions, params and metrics, and for a step the pipeline
    run, step and cache key. While ``keel models reproduce`` re-runs code, nothing is
    registered unless it was asked to register.
    """
    run = _logging_run(run)
    options.setdefault("name", registered_model_name or name)
    if registered_model_name and _reproducing_without_register():
        run.set_tag("keel.reproduce.would_register", registered_model_name)
        registered_model_name = None
    store: Store = run.client.store
    keyring = options.pop("keyring", None) or default_keyring(store)
    if sign is not False:
        keyring.ensure_signing_key()  # first log_model on this machine: sign from now on
    lineage, metrics = run_lineage(store, run.id)
    options.setdefault("metrics", metrics)
    options["lineage"] = {**lineage, **options.get("lineage", {})}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "package"
        manifest = save(
            model, folder, input_example=input_example, keyring=keyring, sign=sign, **options
        )
        run.client.log_artifact(run.id, folder, name)
        version = None
        if registered_model_name:
            registry = Registry(store, run.client.project.name, keyring)
            version = registry.register(
                folder, registered_model_name, run_id=run.id, semver=semver, tags=tags
            )
    return ModelInfo(manifest, run.id, name, version)


def _logging_run(run: Any) -> ActiveRun:
    """The run ``log_model`` records into (given, or the active one), its metrics flushed."""
    from keel.tracking import ActiveRun
    from keel.tracking._active import as_active_run

    if run is None and not _has_active_run():
        raise InvalidArgumentError("log_model needs an active run; call keel.start_run() first")
    run = as_active_run(run)
    assert isinstance(run, ActiveRun)
    run.flush()  # metrics a step logged so far belong in the manifest
    return run


def _has_active_run() -> bool:
    from keel.tracking import active_run

    return active_run() is not None


def _reproducing_without_register() -> bool:
    from keel.models._reproduce import ENV_OF, ENV_REGISTER

    return bool(os.environ.get(ENV_OF)) and os.environ.get(ENV_REGISTER) != "1"


def run_lineage(store: Store, run_id: str) -> tuple[dict[str, Any], dict[str, float]]:
    """What made a run's model: git commit and diff flag, entry point, datasets, params."""
    run = store.runs.get(run_id)
    datasets = []
    for version_id, direction in store.runs.dataset_links(run_id):
        dv = store.datasets.get_version_by_id(version_id)
        datasets.append(
            {
                "name": dv.dataset_name,
                "version": dv.version,
                "content_hash": dv.content_hash,
                "direction": direction,
            }
        )
    tags = run.tags
    lineage = {
        "run_id": run_id,
        "experiment_id": run.info.experiment_id,
        "git_commit": tags.get("keel.git.commit"),
        "git_dirty": tags.get("keel.git.dirty") == "true",
        "git_root": tags.get("keel.git.root"),
        "entrypoint": tags.get("keel.source.entrypoint"),
        "cwd": tags.get("keel.source.cwd"),
        "datasets": sorted(datasets, key=lambda d: (d["name"], d["version"])),
        "params": dict(run.params),
        "argv": _json_list(tags.get("keel.source.argv")),
    }
    if tags.get("keel.pipeline.run"):
        lineage["pipeline"] = {
            "run_id": tags["keel.pipeline.run"],
            "name": tags.get("keel.pipeline"),
            "target": tags.get("keel.pipeline.target"),
            "params": _json_dict(tags.get("keel.pipeline.params")),
            "step": tags.get("keel.step"),
            "node": tags.get("keel.step.node"),
            "cache_key": tags.get("keel.step.cache_key"),
        }
    metrics = {k: v for k, v in run.metrics.items() if v == v}  # drop NaN
    return lineage, metrics


def _json_list(text: str | None) -> list[str] | None:
    try:
        value = json.loads(text) if text else None
    except ValueError:
        return None
    return [str(v) for v in value] if isinstance(value, list) else None


def _json_dict(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return dict(value) if isinstance(value, dict) else {}


__all__ = ["ModelInfo", "load", "log_model", "run_lineage", "save"]
