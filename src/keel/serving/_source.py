"""Where served models come from: a small predictor interface and the sources that load it.

Serving needs only ``predictor.predict(frame)``; everything else (flavor, ONNX twin,
signature enforcement) is the model package's business. A :class:`ModelSource` resolves a
reference (``churn@champion`` -> version ``"7"``) and loads a version. Two ship:
:class:`RegistrySource` over keel's model registry, and :class:`InMemorySource` for tests
and embedding, where aliases can be moved by hand.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from keel.exceptions import NotFoundError
from keel.models._uri import ModelRef
from keel.serving._schema import InputSchema

if TYPE_CHECKING:
    import pandas as pd

    from keel.store import Store


@runtime_checkable
class Predictor(Protocol):
    """Anything with ``predict(frame)`` returning an array, a Series, a frame or a dict."""

    def predict(self, df: pd.DataFrame) -> Any: ...


@dataclass(frozen=True)
class LoadedModel:
    """One model version ready to serve."""

    name: str
    version: str
    predictor: Predictor
    schema: InputSchema | None = None
    runtime: str = "python"  # "onnx" when the package's verified ONNX twin is used
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.name}/{self.version}"


class ModelSource(Protocol):
    """Resolves references to versions and loads versions. Must be thread-safe."""

    def resolve(self, ref: ModelRef) -> str:
        """The version a reference points at now (aliases and "latest" can move)."""
        ...

    def load(self, name: str, version: str) -> LoadedModel: ...


class InMemorySource:
    """Predictors registered by hand: ``add("churn", "1", model)``, ``set_alias(...)``."""

    def __init__(self) -> None:
        self._models: dict[tuple[str, str], LoadedModel] = {}
        self._aliases: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def add(
        self,
        name: str,
        version: str | int,
        predictor: Predictor | Callable[[pd.DataFrame], Any],
        *,
        schema: Any = None,
        aliases: tuple[str, ...] = (),
        metadata: Mapping[str, Any] | None = None,
    ) -> LoadedModel:
        if not hasattr(predictor, "predict"):
            predictor = _FunctionPredictor(predictor)
        loaded = LoadedModel(
            name,
            str(version),
            predictor,
            InputSchema.coerce(schema),
            metadata=dict(metadata or {}),
        )
        with self._lock:
            self._models[(name, str(version))] = loaded
            for alias in aliases:
                self._aliases[(name, alias)] = str(version)
        return loaded

    def set_alias(self, name: str, alias: str, version: str | int) -> None:
        with self._lock:
            if (name, str(version)) not in self._models:
                raise NotFoundError(f"model {name!r} has no version {version}")
            self._aliases[(name, alias)] = str(version)

    def resolve(self, ref: ModelRef) -> str:
        with self._lock:
            if ref.version is not None:
                if (ref.name, str(ref.version)) not in self._models:
                    raise NotFoundError(f"model {ref.name!r} has no version {ref.version}")
                return str(ref.version)
            if ref.alias is not None:
                try:
                    return self._aliases[(ref.name, ref.alias)]
                except KeyError:
                    raise NotFoundError(f"model {ref.name!r} has no alias {ref.alias!r}") from None
            versions = [int(v) for (n, v) in self._models if n == ref.name and v.isdigit()]
            if not versions:
                raise NotFoundError(f"model {ref.name!r} has no versions")
            return str(max(versions))

    def load(self, name: str, version: str) -> LoadedModel:
        with self._lock:
            try:
                return self._models[(name, version)]
            except KeyError:
                raise NotFoundError(f"model {name!r} has no version {version}") from None


class _FunctionPredictor:
    def __init__(self, fn: Callable[[pd.DataFrame], Any]) -> None:
        self._fn = fn

    def predict(self, df: pd.DataFrame) -> Any:
        return self._fn(df)


class RegistrySource:
    """Models from keel's registry (:mod:`keel.models`): verified, scanned, signature-checked.

    ``trust`` is the signature policy every load applies (``strict``, the default, refuses
    unsigned or unknown signers; ``warn`` loads them with a warning; ``off`` skips it).
    """

    def __init__(self, store: Store, project: str = "default", *, trust: str = "strict") -> None:
        self._store = store
        self._project = project
        self._trust = trust

    def resolve(self, ref: ModelRef) -> str:
        from keel.models import resolve_version

        target = f"{ref.name}@{ref.alias}" if ref.alias else str(ref)
        return str(resolve_version(target, store=self._store, project=self._project))

    def load(self, name: str, version: str) -> LoadedModel:
        import keel.models

        predictor = keel.models.load(
            f"models:/{name}/{version}", store=self._store, project=self._project, trust=self._trust
        )
        return loaded_model(name, version, predictor)


def loaded_model(name: str, version: str, predictor: Any) -> LoadedModel:
    """A loaded keel package as a :class:`LoadedModel` (its signature as the input schema)."""
    signature = getattr(predictor, "signature", None)
    schema = InputSchema.coerce(signature)
    outputs = [
        {"name": c.name, "datatype": _v2_type(str(getattr(c, "type", ""))), "shape": [-1]}
        for c in getattr(signature, "outputs", ()) or ()
    ]
    manifest = getattr(predictor, "manifest", None)
    meta = {
        "flavor": str(getattr(predictor, "flavor", "")),
        "outputs": outputs,
        "task": str(getattr(manifest, "task", "")),
    }
    runtime = str(getattr(predictor, "runtime", "python"))
    return LoadedModel(name, version, predictor, schema, runtime=runtime, metadata=meta)


def _v2_type(arrow_type: str) -> str:
    if arrow_type.startswith("float") or arrow_type == "double":
        return "FP32" if arrow_type in ("float", "float32") else "FP64"
    if arrow_type.startswith(("int", "uint")):
        return "INT64"
    return "BOOL" if arrow_type == "bool" else "BYTES"


__all__ = [
    "InMemorySource",
    "LoadedModel",
    "ModelSource",
    "Predictor",
    "RegistrySource",
    "loaded_model",
]
