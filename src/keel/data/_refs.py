"""Dataset references: ``"name"`` (the newest version) or ``"name@3"`` (version 3)."""

from __future__ import annotations

from dataclasses import dataclass

from keel.exceptions import InvalidArgumentError


@dataclass(frozen=True, slots=True)
class DatasetRef:
    """A parsed reference; ``version`` is None for "the newest version"."""

    name: str
    version: int | None = None

    def __str__(self) -> str:
        return self.name if self.version is None else f"{self.name}@{self.version}"


def parse_ref(ref: str | DatasetRef) -> DatasetRef:
    """Parse ``NAME``, ``NAME@N`` or ``NAME@latest``; anything else names itself in the error."""
    if isinstance(ref, DatasetRef):
        return ref
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidArgumentError(
            f"dataset reference must be a non-empty string like 'customers@3', got {ref!r}"
        )
    name, sep, tail = ref.rpartition("@")
    if not sep:
        return DatasetRef(ref)
    if not name:
        raise InvalidArgumentError(
            f"dataset reference {ref!r} has no dataset name before '@'; use NAME@VERSION"
        )
    if tail == "latest":
        return DatasetRef(name)
    if not tail.isdigit() or int(tail) < 1:
        raise InvalidArgumentError(
            f"dataset reference {ref!r} has version {tail!r}; a version is a number from 1 "
            f"(for example {name}@1) or 'latest'"
        )
    return DatasetRef(name, int(tail))
