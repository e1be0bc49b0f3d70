"""The entities of the model registry (imported through :mod:`keel.store.entities`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True, repr=False)
class RegisteredModel:
    """A named model of the registry, its aliases and newest version number."""

    id: int
    project_id: int
    name: str
    description: str
    created_at: int
    updated_at: int
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)  # alias -> version number
    latest_version: int | None = None

    def __repr__(self) -> str:
        aliases = ", ".join(f"{a}→{v}" for a, v in sorted(self.aliases.items()))
        return (
            f"RegisteredModel({self.name!r}, latest={self.latest_version}, aliases={{{aliases}}})"
        )


@dataclass(frozen=True, slots=True, repr=False)
class ModelVersion:
    """One registered version: where its package blob is, and what it says about itself."""

    id: int
    model_id: int
    name: str
    version: int
    semver: str | None
    blob_sha: str
    size: int
    manifest_sha: str
    run_id: str | None
    flavor: str
    serve_flavor: str
    task: str
    source: str
    signer: str | None
    description: str
    frameworks: dict[str, str]
    signature: dict[str, Any]
    lineage: dict[str, Any]
    card: dict[str, Any]
    created_at: int
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    datasets: list[str] = field(default_factory=list)  # "name@version"
    aliases: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def __repr__(self) -> str:
        signed = f"signed by {self.signer}" if self.signer else "unsigned"
        aliases = f", aliases={self.aliases}" if self.aliases else ""
        return f"ModelVersion({self.ref}, {self.flavor}, {self.task}, {signed}{aliases})"


@dataclass(frozen=True, slots=True)
class NewVersion:
    """What a caller records when it registers a package."""

    blob_sha: str
    size: int
    manifest_sha: str
    flavor: str
    serve_flavor: str
    task: str
    source: str = "logged"
    run_id: str | None = None
    semver: str | None = None
    signer: str | None = None
    description: str = ""
    frameworks: Mapping[str, str] = field(default_factory=dict)
    signature: Mapping[str, Any] = field(default_factory=dict)
    lineage: Mapping[str, Any] = field(default_factory=dict)
    card: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    datasets: Sequence[tuple[str, int]] = ()
