"""What every flavor provides: save a model into a folder, and load it back as a backend.

A flavor never unpickles: each stores its model in a format that holds data, not code
(skops, XGBoost UBJSON, LightGBM text, ONNX protobuf), or, for the python-function
flavor, in source files covered by the package signature.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Saved:
    """What a flavor wrote: its manifest section, framework versions and pins."""

    config: dict[str, Any]
    frameworks: dict[str, str] = field(default_factory=dict)
    requirements: list[str] = field(default_factory=list)
    task: str = "other"


@dataclass(frozen=True)
class LoadOptions:
    """Choices a caller makes when loading: which extra types or globals it trusts."""

    trusted_types: frozenset[str] = frozenset()
    allow_code: bool = True
    #: verified bytes of package files, by path: flavors load these instead of reopening
    contents: Mapping[str, bytes] = field(default_factory=dict)
    #: verified private copies of large package files, by path (loaders open these)
    copies: Mapping[str, Path] = field(default_factory=dict)

    def source(self, folder: Path, name: str) -> bytes | Path:
        """The verified bytes of ``name`` if they were kept, else the verified private copy
        of it, else its path in the package."""
        data = self.contents.get(name)
        if data is not None:
            return data
        return self.copies.get(name, folder / name)


class Backend(Protocol):
    """A loaded model; ``frame`` has already passed the signature check."""

    raw: Any

    def predict(self, frame: pd.DataFrame) -> Any: ...

    def predict_proba(self, frame: pd.DataFrame) -> Any: ...


class Flavor(Protocol):
    name: str

    def matches(self, model: Any) -> bool: ...

    def save(self, model: Any, folder: Path, example: pd.DataFrame) -> Saved: ...

    def load(self, folder: Path, config: dict[str, Any], options: LoadOptions) -> Backend: ...


def versions(*dists: str) -> dict[str, str]:
    """Installed versions of the named distributions (missing ones are left out)."""
    out = {}
    for dist in dists:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def pins(frameworks: dict[str, str]) -> list[str]:
    return [f"{name}=={version}" for name, version in sorted(frameworks.items())]


def task_of_name(class_name: str) -> str:
    lowered = class_name.lower()
    if "classifier" in lowered:
        return "classification"
    if "regressor" in lowered:
        return "regression"
    if "ranker" in lowered:
        return "ranking"
    return "other"


class NoProba:
    """Mixin for backends without class probabilities."""

    raw: Any

    def predict_proba(self, frame: pd.DataFrame) -> Any:
        from keel.exceptions import InvalidArgumentError

        raise InvalidArgumentError(
            f"this model ({type(self.raw).__name__}) does not predict class probabilities; "
            "call predict() instead"
        )


__all__ = [
    "Backend",
    "Flavor",
    "LoadOptions",
    "NoProba",
    "Saved",
    "pins",
    "task_of_name",
    "versions",
]
