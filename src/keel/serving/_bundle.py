"""The model packages a deployment serves, gathered into a folder an image can carry.

``keel deploy export`` copies every version a spec names (aliases resolved at export time)
into ``models/<name>/<version>/`` beside an ``index.json`` that remembers which version
each alias and "latest" meant, plus the public keys that signed them. Inside the image
``keel serve --packages models`` serves them through :class:`PackageSource`, verified
like any package, with no registry or network at hand. An image is a frozen release:
its aliases do not move (promote, then export and roll out a new image).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.exceptions import InvalidArgumentError, NotFoundError
from keel.models._uri import ModelRef
from keel.serving._source import LoadedModel, loaded_model
from keel.serving._spec import DeploymentSpec

if TYPE_CHECKING:
    from keel.models import Manifest
    from keel.store import Store

INDEX_FILE = "index.json"
KEYS_DIR = "keys"


@dataclass(frozen=True)
class ServedVersion:
    """One registered version a spec serves, with its package folder and manifest."""

    ref: str  # as the spec says it (churn@champion)
    name: str
    version: str
    folder: Path
    manifest: Manifest

    @property
    def key(self) -> str:
        return f"{self.name}/{self.version}"


def served_versions(store: Store, project: str, spec: DeploymentSpec) -> list[ServedVersion]:
    """Every version ``spec`` serves now (each once), its package fetched to the cache."""
    from keel.models import MANIFEST_FILE, Manifest, Registry

    registry = Registry(store, project)
    out: dict[str, ServedVersion] = {}
    for ep in spec.endpoints:
        for v in ep.versions:
            mv = registry.resolve(_registry_ref(v.ref))
            key = f"{mv.name}/{mv.version}"
            if key in out:
                continue
            folder = registry.fetch(mv)
            manifest = Manifest.from_yaml((folder / MANIFEST_FILE).read_bytes())
            out[key] = ServedVersion(str(v.ref), mv.name, str(mv.version), folder, manifest)
    return list(out.values())


def _registry_ref(ref: ModelRef) -> str:
    return f"{ref.name}@{ref.alias}" if ref.alias else str(ref)


def write_bundle(
    versions: list[ServedVersion], dest: Path, *, trusted_keys: Path | None = None
) -> Path:
    """Copy the packages to ``dest`` (``<name>/<version>/``) with their ``index.json``."""
    if dest.exists() and any(dest.iterdir()):
        raise InvalidArgumentError(f"{dest} exists and is not empty; choose a new folder")
    models: dict[str, dict[str, Any]] = {}
    for sv in versions:
        shutil.copytree(sv.folder, dest / sv.name / sv.version)
        entry = models.setdefault(sv.name, {"versions": [], "aliases": {}})
        entry["versions"] = sorted({*entry["versions"], sv.version}, key=int)
        parsed = _parse(sv.ref)
        if parsed.alias:
            entry["aliases"][parsed.alias] = sv.version
        elif parsed.version is None:
            entry["latest"] = sv.version
    if trusted_keys is not None and trusted_keys.is_dir():
        shutil.copytree(trusted_keys, dest / KEYS_DIR / "trusted")  # public halves only
    index = {"format_version": 1, "models": models}
    (dest / INDEX_FILE).write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    return dest


def _parse(text: str) -> ModelRef:
    from keel.models._uri import parse_model_ref

    return parse_model_ref(text)


class PackageSource:
    """Models from a bundle folder written by :func:`write_bundle` (thread-safe, picklable)."""

    def __init__(self, root: str | Path, *, trust: str = "warn") -> None:
        self.root = Path(root)
        self._trust = trust
        index = self.root / INDEX_FILE
        try:
            self._models: dict[str, dict[str, Any]] = json.loads(index.read_text())["models"]
        except FileNotFoundError:
            raise NotFoundError(
                f"{index} does not exist; --packages takes the models/ folder that "
                "`keel deploy export --output DIR` writes"
            ) from None
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidArgumentError(f"{index} is not a keel package index: {exc}") from exc

    def resolve(self, ref: ModelRef) -> str:
        entry = self._models.get(ref.name)
        if entry is None:
            raise NotFoundError(
                f"model {ref.name!r} is not in {self.root} (it holds "
                f"{', '.join(sorted(self._models)) or 'no models'})"
            )
        if ref.version is not None:
            wanted = str(ref.version)  # the one ModelRef counts versions as numbers
            found: str | None = wanted if wanted in entry["versions"] else None
        elif ref.alias is not None:
            found = entry["aliases"].get(ref.alias)
        else:
            found = entry.get("latest") or max(entry["versions"], key=int)
        if found is None:
            raise NotFoundError(f"{ref} is not in {self.root}; export the deployment again")
        return str(found)

    def load(self, name: str, version: str) -> LoadedModel:
        import keel.models
        from keel.models import Keyring

        folder = self.root / name / version
        if not folder.is_dir():
            raise NotFoundError(f"{name}/{version} is not in {self.root}")
        predictor = keel.models.load(
            folder, trust=self._trust, keyring=Keyring(self.root / KEYS_DIR)
        )
        return loaded_model(name, version, predictor)

    def manifest(self, name: str, version: str) -> Manifest:
        from keel.models import MANIFEST_FILE, Manifest

        return Manifest.from_yaml((self.root / name / version / MANIFEST_FILE).read_bytes())


__all__ = ["INDEX_FILE", "PackageSource", "ServedVersion", "served_versions", "write_bundle"]
