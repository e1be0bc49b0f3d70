"""scikit-learn models (estimators and whole Pipelines) stored with skops, never pickle.

Loading asks skops which types in the file it does not trust by default, and trusts
only those keel's allowlist accepts (estimator classes of scikit-learn and friends) plus
the ones the caller names; any other type refuses the load and is named in the error.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.exceptions import InvalidArgumentError, UnsafeModelError
from keel.models._allowlist import global_verdict
from keel.models._flavor_base import LoadOptions, Saved, pins, versions

if TYPE_CHECKING:
    import pandas as pd

FILE = "model.skops"


class SklearnBackend:
    def __init__(self, model: Any) -> None:
        self.raw = model
        self._frame_input = hasattr(model, "feature_names_in_")

    def _x(self, frame: pd.DataFrame) -> Any:
        return frame if self._frame_input else frame.to_numpy()

    def predict(self, frame: pd.DataFrame) -> Any:
        return self.raw.predict(self._x(frame))

    def predict_proba(self, frame: pd.DataFrame) -> Any:
        if not hasattr(self.raw, "predict_proba"):
            raise InvalidArgumentError(
                f"{type(self.raw).__name__} does not predict probabilities; use predict()"
            )
        return self.raw.predict_proba(self._x(frame))


class SklearnFlavor:
    name = "sklearn"

    def matches(self, model: Any) -> bool:
        module = type(model).__module__
        return module.startswith("sklearn.") and hasattr(model, "predict")

    def save(self, model: Any, folder: Path, example: pd.DataFrame) -> Saved:
        from sklearn.base import is_classifier, is_regressor

        from keel._skops import skops_io

        sio = skops_io()

        try:
            sio.dump(model, folder / FILE)
        except (TypeError, NotImplementedError) as exc:
            raise InvalidArgumentError(
                f"skops cannot store this {type(model).__name__} ({exc}); custom functions "
                "inside a Pipeline need the python-function flavor (flavor='python')"
            ) from exc
        task = (
            "classification"
            if is_classifier(model)
            else "regression"
            if is_regressor(model)
            else "other"
        )
        frameworks = versions("scikit-learn", "skops", "numpy", "scipy")
        config = {
            "file": FILE,
            "estimator": f"{type(model).__module__}.{type(model).__name__}",
            # The types skops will be told to trust; listed so loading needs no second audit.
            "trusted_types": sorted(sio.get_untrusted_types(file=folder / FILE)),
        }
        return Saved(config, frameworks, pins(frameworks), task)

    def load(self, folder: Path, config: dict[str, Any], options: LoadOptions) -> SklearnBackend:
        from keel._skops import skops_io

        sio = skops_io()

        source = options.source(folder, str(config.get("file", FILE)))
        path = folder / str(config.get("file", FILE))  # for messages; bytes come from source

        def verified() -> Any:
            return io.BytesIO(source) if isinstance(source, bytes) else source

        check_skops_budget(verified(), path.name)
        listed = config.get("trusted_types")
        if isinstance(listed, list):
            untrusted = [str(t) for t in listed]
        else:
            untrusted = sio.get_untrusted_types(file=verified())
        refused = [t for t in untrusted if not _acceptable(t, options.trusted_types)]
        if refused:
            raise UnsafeModelError(
                f"{path.name} holds types keel does not trust: {', '.join(refused[:5])}; "
                "if you trust the author, pass trusted_types=[...] naming them"
            )
        try:
            return SklearnBackend(sio.load(verified(), trusted=list(untrusted)))
        except sio.exceptions.UntrustedTypesFoundException as exc:
            raise UnsafeModelError(
                f"{path.name} holds types its manifest does not list: {exc}"
            ) from exc


#: The largest skops ``schema.json`` keel parses (it is read whole by ``json.loads``).
MAX_SCHEMA_BYTES = 64 << 20


def check_skops_budget(source: Path | io.BytesIO, name: str) -> None:
    """Refuse a skops zip whose declared sizes would make skops read without bound."""
    import zipfile

    from keel.models._scan import MAX_INFLATED_BYTES, MAX_ZIP_MEMBERS

    try:
        with zipfile.ZipFile(source) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnsafeModelError(f"{name} is not a readable skops file ({exc})") from exc
    schema = next((i for i in infos if i.filename == "schema.json"), None)
    if schema is None:
        raise UnsafeModelError(f"{name} has no schema.json; it is not a skops file")
    if schema.file_size > MAX_SCHEMA_BYTES:
        raise UnsafeModelError(
            f"{name}: schema.json declares {schema.file_size} bytes (limit {MAX_SCHEMA_BYTES})"
        )
    total = sum(i.file_size for i in infos)
    if len(infos) > MAX_ZIP_MEMBERS or total > MAX_INFLATED_BYTES:
        raise UnsafeModelError(
            f"{name} declares {len(infos)} members and {total} bytes once inflated; refused"
        )


def _acceptable(dotted: str, trusted: frozenset[str]) -> bool:
    if dotted in trusted:
        module, _, name = dotted.rpartition(".")
        return global_verdict(module, name, frozenset({dotted})) is None
    module, _, name = dotted.rpartition(".")
    return bool(module) and global_verdict(module, name) is None


__all__ = ["SklearnBackend", "SklearnFlavor"]
