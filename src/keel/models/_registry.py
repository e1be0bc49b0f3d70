"""The model registry as users see it: register packages, resolve references, promote.

A registered version's package is stored as one blob (the tar form). Loading fetches it
into the machine-local cache once, then verifies every file on every load, so a cached
copy changed on disk is caught like any other tampering.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.exceptions import InvalidArgumentError, NotFoundError
from keel.models._uri import VersionRef, parse_ref, parse_run_uri
from keel.store import ModelVersion, NewVersion, RegisteredModel, Store
from keel.store.projects import ProjectByName

if TYPE_CHECKING:
    from keel.models._package import LoadedModel
    from keel.models._signing import Keyring


def default_keyring(store: Store) -> Keyring:
    from keel.models._signing import Keyring

    return Keyring(store.settings.home / "keys")


class Registry(ProjectByName):
    """Registered models of one project. Thread-safe; cheap to create (no I/O: the project
    is looked up on first use; only :meth:`register` creates it)."""

    def __init__(
        self, store: Store, project: str = "default", keyring: Keyring | None = None
    ) -> None:
        super().__init__(store, project)
        self.keyring = keyring or default_keyring(store)

    @property
    def _pid(self) -> int:
        """The project's id for everything but registering: it must exist."""
        return self.existing_project().id

    # -- registering -----------------------------------------------------------------------
    def register(
        self,
        package: str | os.PathLike[str],
        name: str,
        *,
        run_id: str | None = None,
        semver: str | None = None,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        card: Mapping[str, Any] | None = None,
        source: str = "logged",
    ) -> ModelVersion:
        """Store a package folder as the next version of ``name``."""
        from keel.models._archive import pack
        from keel.models._manifest import MANIFEST_FILE
        from keel.models._verify import UntrustedModelWarning, verify_package

        folder = Path(package)
        with warnings.catch_warnings():
            # Registering an unsigned package is allowed; loading it is where policy applies.
            warnings.simplefilter("ignore", UntrustedModelWarning)
            verified = verify_package(folder, policy="warn", keyring=self.keyring)
        manifest = verified.manifest
        manifest_bytes = (folder / MANIFEST_FILE).read_bytes()
        with tempfile.TemporaryDirectory() as tmp:
            ref = self.store.blobs.put_file(pack(folder, Path(tmp) / "package.tar"))
        lineage = manifest.lineage
        new = NewVersion(
            blob_sha=ref.sha,
            size=ref.size,
            manifest_sha=hashlib.sha256(manifest_bytes).hexdigest(),
            flavor=manifest.flavor,
            serve_flavor=manifest.serve_flavor,
            task=manifest.task,
            source=source,
            run_id=run_id or lineage.get("run_id"),
            semver=semver,
            signer=verified.signature.key_id if verified.signature else None,
            description=description,
            frameworks=manifest.frameworks,
            signature=manifest.signature.to_dict(),
            lineage=lineage,
            card={**manifest.card, **(card or {})},
            metrics=manifest.metrics,
            tags=tags or {},
            datasets=_input_datasets(lineage),
        )
        return self.store.registry.create_version(self.project.id, name, new)

    def register_run(
        self,
        uri: str,
        name: str,
        *,
        semver: str | None = None,
        description: str = "",
        tags: Mapping[str, str] | None = None,
    ) -> ModelVersion:
        """Register the model a run logged: ``runs:/<run id>/<artifact path>``.

        The run must belong to this project and hold a model package at that path.
        """
        from keel.models._manifest import MANIFEST_FILE
        from keel.tracking import TrackingClient

        ref = parse_run_uri(uri)
        TrackingClient(self.store, self.project_name).get_run(ref.run_id)  # project check
        items = self.store.artifacts.list(ref.run_id, ref.path)
        if not any(a.path == f"{ref.path}/{MANIFEST_FILE}" for a in items):
            raise NotFoundError(_no_model_message(self.store, ref.run_id, ref.path))
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "package"
            for art in items:
                rel = art.path[len(ref.path) + 1 :]
                self.store.blobs.download(art.blob_sha, folder / rel)
            return self.register(
                folder,
                name,
                run_id=ref.run_id,
                semver=semver,
                description=description,
                tags=tags,
            )

    # -- reading ---------------------------------------------------------------------------
    def resolve(self, ref: str | VersionRef) -> ModelVersion:
        """The version a reference names (``churn@3``, ``churn@champion``, ``churn``)."""
        parsed = parse_ref(ref) if isinstance(ref, str) else ref
        if parsed.version is not None:
            return self.store.registry.get_version(self._pid, parsed.name, parsed.version)
        if parsed.alias is not None:
            return self.store.registry.get_by_alias(self._pid, parsed.name, parsed.alias)
        return self.store.registry.latest_version(self._pid, parsed.name)

    def get_model(self, name: str) -> RegisteredModel:
        return self.store.registry.get_model(self._pid, name)

    def list_models(self) -> list[RegisteredModel]:
        return self.store.registry.list_models(self._pid)

    def versions(self, name: str) -> list[ModelVersion]:
        return self.store.registry.versions(self._pid, name)

    def tasks(self) -> list[str]:
        """The tasks this project's model versions have (``classification``, ``other`` ...)."""
        found = self.store.registry.search_versions(self._pid, None, max_results=50_000)
        return sorted({v.task for v in found})

    def search(
        self,
        filter_string: str | None = None,
        *,
        name: str | None = None,
        task: str | None = None,
        framework: str | None = None,
        dataset: str | None = None,
        tags: Mapping[str, str] | None = None,
        min_metrics: Mapping[str, float] | None = None,
        max_results: int = 1000,
    ) -> list[ModelVersion]:
        """Versions matching a filter and the shortcut options (all must hold)."""
        terms = [filter_string.strip()] if filter_string and filter_string.strip() else []
        for attr, value in (
            ("name", name),
            ("task", task),
            ("framework", framework),
            ("dataset", dataset),
        ):
            if value is not None:
                terms.append(f"{attr} = {_quote(value)}")
        for key, value in (tags or {}).items():
            terms.append(f"tags.`{key}` = {_quote(value)}")
        for key, threshold in (min_metrics or {}).items():
            terms.append(f"metrics.`{key}` >= {float(threshold)!r}")
        if len(terms) > 1 and filter_string and filter_string.strip():
            terms[0] = f"({terms[0]})"
        return self.store.registry.search_versions(
            self._pid, " and ".join(terms) or None, max_results=max_results
        )

    # -- packages --------------------------------------------------------------------------
    def fetch(self, version: ModelVersion) -> Path:
        """The package folder of ``version`` in the local cache (downloaded once)."""
        from keel.models._archive import unpack
        from keel.models._manifest import MANIFEST_FILE

        folder = self.store.settings.cache_dir / "models" / version.blob_sha
        if not (folder / MANIFEST_FILE).exists():
            folder.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
                archive = self.store.blobs.download(version.blob_sha, Path(tmp) / "package.tar")
                staged = unpack(archive, Path(tmp) / "package")
                try:
                    os.replace(staged, folder)
                except OSError:
                    if not (folder / MANIFEST_FILE).exists():
                        raise  # not a concurrent fetch that won the race: a real error
        return folder

    def load(self, ref: str | VersionRef, **options: Any) -> LoadedModel:
        from keel.models._package import load_package

        options.setdefault("keyring", self.keyring)
        return load_package(self.fetch(self.resolve(ref)), **options)

    def download(self, ref: str, dest: str | os.PathLike[str], *, archive: bool = False) -> Path:
        """Copy a version's package to ``dest``: a folder, or the single-file archive."""
        version = self.resolve(ref)
        target = Path(dest)
        if archive:
            if target.is_dir():
                target = target / f"{version.name}-{version.version}.keel.tar"
            return self.store.blobs.download(version.blob_sha, target)
        if target.exists() and any(target.iterdir()):
            raise InvalidArgumentError(f"{target} exists and is not empty; choose a new folder")
        shutil.copytree(self.fetch(version), target, dirs_exist_ok=True)
        return target

    # -- changing --------------------------------------------------------------------------
    def promote(self, ref: str, alias: str, *, model: str | None = None) -> ModelVersion:
        """Point ``alias`` at the version ``ref`` names (``churn@3``)."""
        parsed = parse_ref(ref)
        if parsed.version is None and parsed.alias is None:
            raise InvalidArgumentError(
                f"say which version to promote: {parsed.name}@<version> (got {ref!r})"
            )
        owner = model or parsed.name
        version = self.resolve(parsed)
        return self.store.registry.set_alias(self._pid, owner, alias, version.id)

    def remove_alias(self, name: str, alias: str) -> None:
        self.store.registry.delete_alias(self._pid, name, alias)

    def rename(self, name: str, new_name: str) -> RegisteredModel:
        """Rename a model (versions, tags and aliases follow); refused while a deployment
        serves it under its current name."""
        return self.store.registry.rename_model(self._pid, name, new_name)

    def delete(self, name: str) -> None:
        """Delete a model and its versions (package blobs go at the next ``keel gc``);
        refused while a deployment serves it."""
        self.store.registry.delete_model(self._pid, name)

    def set_card(
        self, ref: str, card: Mapping[str, Any], *, description: str | None = None
    ) -> ModelVersion:
        version = self.resolve(ref)
        merged = {**version.card, **card}
        return self.store.registry.update_version(version.id, card=merged, description=description)

    def describe(self, name: str, description: str) -> RegisteredModel:
        """Set the description of a registered model (shown by ``keel models list``)."""
        return self.store.registry.update_model(self._pid, name, description=description)

    def set_model_tags(self, name: str, tags: Mapping[str, str]) -> RegisteredModel:
        """Tags on the registered model; ``tags.x`` filters match them for every version."""
        self.store.registry.set_model_tags(self._pid, name, tags)
        return self.get_model(name)

    def set_tags(self, ref: str, tags: Mapping[str, str]) -> ModelVersion:
        version = self.resolve(ref)
        self.store.registry.set_version_tags(version.id, tags)
        return self.store.registry.get_version_by_id(version.id)


def _no_model_message(store: Store, run_id: str, path: str) -> str:
    from keel.models._manifest import MANIFEST_FILE

    models = sorted(
        a.path[: -len(MANIFEST_FILE) - 1]
        for a in store.artifacts.list(run_id)
        if a.path.endswith("/" + MANIFEST_FILE)
    )
    found = f"its models: {', '.join(models)}" if models else "it logged no model"
    return f"run {run_id} has no model at {path!r} ({found}); nothing was registered"


def _quote(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def register_model(
    uri: str,
    name: str,
    *,
    store: Store | None = None,
    project: str | None = None,
    semver: str | None = None,
    description: str = "",
    tags: Mapping[str, str] | None = None,
) -> ModelVersion:
    """``keel.register_model("runs:/<run id>/model", "churn")``: register a model an earlier
    run logged, as the next version of ``name`` (in the default client's store and project
    unless given)."""
    if store is None:
        from keel.tracking import get_client

        client = get_client()
        store, project = client.store, project or client.project_name
    registry = Registry(store, project or store.settings.project)
    return registry.register_run(uri, name, semver=semver, description=description, tags=tags)


def resolve_version(ref: str, *, store: Store, project: str = "default") -> int:
    """The version number ``ref`` names now (serving re-resolves aliases with this)."""
    return Registry(store, project).resolve(ref).version


def _input_datasets(lineage: Mapping[str, Any]) -> list[tuple[str, int]]:
    """(name, version) of each dataset a package's lineage names as an input."""
    return [
        (str(d["name"]), int(d["version"]))
        for d in lineage.get("datasets", [])
        if d.get("direction", "input") == "input"
    ]


__all__ = ["Registry", "default_keyring", "register_model", "resolve_version"]
