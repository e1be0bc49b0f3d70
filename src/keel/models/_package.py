"""Write a model package folder, and load one back as a :class:`LoadedModel`.

Layout::

    keel-model.yaml        the manifest (flavors, signature, files + sha256, lineage ...)
    keel-model.sig         Ed25519 signature over the manifest bytes (when signed)
    model.skops | model.ubj | model.txt | model.onnx | code/ + artifacts/
    model.onnx             an ONNX copy, when exported (served if parity holds)
    requirements.txt       pinned framework versions
    input_example.json     the first rows of the example, for people and for serving docs
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.exceptions import (
    AlreadyExistsError,
    ConfigError,
    TamperedModelError,
    UnsafeModelError,
    UnsafePathError,
)
from keel.models._flavor_base import Backend, LoadOptions
from keel.models._flavors import flavor_for, flavor_named, live_backend
from keel.models._manifest import MANIFEST_FILE, Manifest, hash_files, package_files
from keel.models._scan import scan_bytes, scan_file
from keel.models._signature import ModelSignature, as_frame, enforce, infer_signature
from keel.models._signing import SIGNATURE_FILE, Keyring, sign_package
from keel.models._verify import Verified, verify_package
from keel.store.paths import safe_relpath

if TYPE_CHECKING:
    import pandas as pd

EXAMPLE_FILE = "input_example.json"
REQUIREMENTS_FILE = "requirements.txt"


@dataclass(frozen=True)
class SaveOptions:
    """How to package a model; every field has a sensible default."""

    name: str = "model"
    flavor: str | None = None
    onnx: bool | str = "auto"  # True: must export; "auto": try for tree/linear models; False
    parity_rows: Any = None
    parity_tolerance: float = 1e-4
    task: str | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    lineage: Mapping[str, Any] = field(default_factory=dict)
    card: Mapping[str, Any] = field(default_factory=dict)
    requirements: Sequence[str] | None = None
    code_paths: Sequence[str | Path] | None = None
    artifacts: Mapping[str, str | Path] | None = None
    model_kwargs: Mapping[str, Any] | None = None  # constructor arguments (torch flavor)


def save_package(
    model: Any,
    path: str | os.PathLike[str],
    input_example: Any,
    options: SaveOptions,
    *,
    keyring: Keyring | None = None,
    sign: bool | None = None,
) -> Manifest:
    """Write ``model`` as a package folder at ``path`` (which must not exist or be empty)."""
    dest = Path(path)
    if dest.exists() and any(dest.iterdir()):
        raise AlreadyExistsError(f"{dest} exists and is not empty; choose a new folder")
    if input_example is None:
        raise ConfigError("input_example is required: it defines the model's input signature")
    example = as_frame(input_example).rename(columns=str)
    kwargs: dict[str, Any] = {
        "code_paths": options.code_paths,
        "artifacts": options.artifacts,
        "model_kwargs": options.model_kwargs,
        "task": options.task,
    }
    flavor = (
        flavor_named(options.flavor, **kwargs) if options.flavor else flavor_for(model, **kwargs)
    )
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.part")
    tmp.mkdir(parents=True)
    try:
        manifest = _write(model, tmp, example, flavor, options)
        if sign or (sign is None and keyring is not None and keyring.has_signing_key()):
            if keyring is None:
                raise ConfigError("sign=True needs a keyring with a signing key")
            sign_package(tmp, keyring, MANIFEST_FILE)
        if dest.exists():
            dest.rmdir()
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def _write(
    model: Any, folder: Path, example: pd.DataFrame, flavor: Any, options: SaveOptions
) -> Manifest:
    saved = flavor.save(model, folder, example)
    task = options.task or saved.task
    native = live_backend(flavor.name, model, saved.config, task)
    signature = infer_signature(example, native.predict(example))
    flavors: dict[str, dict[str, Any]] = {flavor.name: saved.config}
    serve = flavor.name
    frameworks = dict(saved.frameworks)
    if _wants_onnx(options.onnx, flavor.name):
        onnx_config = _try_onnx(model, flavor.name, native, folder, options, task, example)
        if onnx_config is not None:
            flavors["onnx"] = onnx_config
            frameworks.update(_onnx_versions())
            if onnx_config["parity"]["ok"]:
                serve = "onnx"
    requirements = list(options.requirements or saved.requirements)
    (folder / REQUIREMENTS_FILE).write_text("\n".join(requirements) + "\n")
    example.head(5).to_json(folder / EXAMPLE_FILE, orient="split", index=False)
    files = hash_files(folder, package_files(folder, exclude=frozenset({MANIFEST_FILE})))
    manifest = Manifest(
        name=options.name,
        flavor=flavor.name,
        serve_flavor=serve,
        flavors=flavors,
        signature=signature,
        files=files,
        task=task,
        frameworks=frameworks,
        requirements=requirements,
        lineage=dict(options.lineage),
        metrics={k: float(v) for k, v in options.metrics.items()},
        card=dict(options.card),
        created_at=int(time.time() * 1000),
    )
    (folder / MANIFEST_FILE).write_bytes(manifest.to_yaml())
    return manifest


def _wants_onnx(choice: bool | str, flavor: str) -> bool:
    if choice is True or choice == "always":
        return True
    return choice == "auto" and flavor in ("sklearn", "xgboost", "lightgbm")


def _try_onnx(
    model: Any,
    flavor: str,
    native: Backend,
    folder: Path,
    options: SaveOptions,
    task: str,
    example: pd.DataFrame,
) -> dict[str, Any] | None:
    from keel.models._onnx_export import export

    rows = example if options.parity_rows is None else as_frame(options.parity_rows)
    try:
        config, _parity = export(
            model,
            flavor,
            native,
            folder,
            rows.rename(columns=str),
            task=task,
            tolerance=options.parity_tolerance,
        )
    except Exception as exc:  # converters raise many types; "auto" must never fail a save
        (folder / "model.onnx").unlink(missing_ok=True)
        if options.onnx is True:
            raise ConfigError(f"ONNX export of this {type(model).__name__} failed: {exc}") from exc
        return None
    return config


def _onnx_versions() -> dict[str, str]:
    from keel.models._flavor_base import versions

    return versions("onnx", "onnxruntime", "skl2onnx", "onnxmltools")


class LoadedModel:
    """A verified package, ready to predict. ``predict(df)`` checks the signature first."""

    def __init__(self, folder: Path, verified: Verified, backend: Backend, flavor: str) -> None:
        self.folder = folder
        self.verified = verified
        self.manifest: Manifest = verified.manifest
        self.flavor = flavor
        self._backend = backend
        self._accepted: set[tuple[Any, ...]] = set()

    @property
    def signature(self) -> ModelSignature:
        return self.manifest.signature

    @property
    def runtime(self) -> str:
        """``onnx`` when the verified ONNX twin serves, else ``python``."""
        return "onnx" if self.flavor == "onnx" else "python"

    @property
    def raw(self) -> Any:
        """The underlying model object (an estimator, a Booster, an ONNX session...)."""
        return self._backend.raw

    def predict(self, data: Any) -> Any:
        return self._backend.predict(enforce(self.manifest.signature, data, self._accepted))

    def predict_proba(self, data: Any) -> Any:
        return self._backend.predict_proba(enforce(self.manifest.signature, data, self._accepted))

    def __repr__(self) -> str:
        return f"<LoadedModel {self.manifest.name} flavor={self.flavor} task={self.manifest.task}>"


def load_package(
    folder: str | os.PathLike[str],
    *,
    trust: str = "strict",
    keyring: Keyring | None = None,
    allow_pickle: bool = False,
    trusted_types: Sequence[str] = (),
    flavor: str | None = None,
) -> LoadedModel:
    """Verify, scan and load a package folder (see :func:`keel.models.load`)."""
    root = Path(folder)

    def chosen_file(m: Manifest) -> list[str]:
        config = m.flavors.get(flavor or m.serve_flavor, {})
        name = str(config.get("file", ""))
        return [name] if name in m.files else []  # small: kept in memory; large: a private copy

    verified = verify_package(root, policy=trust, keyring=keyring, keep=chosen_file)
    try:  # loaders read their file while loading; the private copies are done with after
        chosen, backend = _load_verified(
            root, verified, frozenset(trusted_types), allow_pickle, flavor
        )
    finally:
        verified.discard_copies()
    return LoadedModel(root, verified, backend, chosen)


def _load_verified(
    root: Path,
    verified: Verified,
    trusted: frozenset[str],
    allow_pickle: bool,
    flavor: str | None,
) -> tuple[str, Backend]:
    manifest = verified.manifest
    scan_package(root, allow_pickle, trusted, verified.contents, verified.copies)
    chosen = flavor or manifest.serve_flavor
    for name, config in manifest.flavors.items():
        confine(manifest, name, config)
    if chosen not in manifest.flavors:
        from keel.exceptions import InvalidArgumentError

        raise InvalidArgumentError(
            f"package {manifest.name} has no {chosen!r} flavor; "
            f"it has {', '.join(manifest.flavors)}"
        )
    options = LoadOptions(
        trusted_types=trusted,
        allow_code=verified.trusted or verified.policy != "strict",
        contents=verified.contents,
        copies=verified.copies,
    )
    try:
        return chosen, flavor_named(chosen).load(root, manifest.flavors[chosen], options)
    except ConfigError:
        if chosen == manifest.flavor:
            raise
        warnings.warn(f"cannot serve {chosen}; using the {manifest.flavor} flavor", stacklevel=3)
        chosen = manifest.flavor
        return chosen, flavor_named(chosen).load(root, manifest.flavors[chosen], options)


def confine(manifest: Manifest, flavor: str, config: Mapping[str, Any]) -> None:
    """Every path a flavor reads must be a file (or folder of files) the manifest hashes.

    The same relative-path check as the manifest's own file names; a path outside the
    package, or to a file the manifest does not list, is refused by name.
    """
    listed = manifest.files
    wanted: list[tuple[str, Any, bool]] = [
        ("file", config.get("file"), False),
        ("code", config.get("code"), True),
    ]
    artifacts = config.get("artifacts")
    if isinstance(artifacts, Mapping):
        wanted.extend((f"artifacts.{k}", v, True) for k, v in artifacts.items())
    for key, value, may_be_folder in wanted:
        if value is None:
            continue
        try:
            rel = safe_relpath(str(value), what=f"the {flavor} flavor's {key}")
        except UnsafePathError as exc:
            raise TamperedModelError(f"{MANIFEST_FILE}: {exc}") from exc
        inside = may_be_folder and any(p.startswith(rel + "/") for p in listed)
        if rel not in listed and not inside:
            raise TamperedModelError(
                f"{MANIFEST_FILE}: the {flavor} flavor's {key} {rel!r} is not a file the "
                "manifest hashes; refused"
            )


def scan_package(
    root: Path,
    allow_pickle: bool,
    trusted: frozenset[str],
    contents: Mapping[str, bytes] | None = None,
    copies: Mapping[str, Path] | None = None,
) -> None:
    """Refuse pickle-family files unless allowed, and unsafe ones always.

    Files in ``contents`` are scanned from those (verified) bytes, files in ``copies`` from
    their verified private copies: the ones to be loaded.
    """
    held = contents or {}
    private = copies or {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel in (MANIFEST_FILE, SIGNATURE_FILE):
            continue
        data = held.get(rel)
        result = (
            scan_bytes(data, label=rel, trusted_globals=trusted)
            if data is not None
            else scan_file(private.get(rel, path), label=rel, trusted_globals=trusted)
        )
        if not result.is_pickle_family and result.safe:
            continue
        result.raise_if_unsafe()
        if not allow_pickle:
            raise UnsafeModelError(
                f"{result.file} is a {result.kind} file; loading it can run code. keel refuses "
                "pickle-family files unless you pass allow_pickle=True (a scan found no "
                "forbidden globals)"
            )


__all__ = ["LoadedModel", "SaveOptions", "load_package", "save_package"]
