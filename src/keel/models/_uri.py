"""Model URIs and references.

``load`` accepts a local folder or archive, ``models:/churn/3``, ``models:/churn@champion``,
``models:/churn`` (the newest version) and ``runs:/<run id>/<artifact path>``. The CLI
accepts the short forms ``churn@3``, ``churn/3``, ``churn@champion`` and ``churn``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from keel.exceptions import InvalidArgumentError

_NAME = re.compile(r"^[A-Za-z0-9][\w.\-]{0,254}$")


@dataclass(frozen=True, slots=True)
class VersionRef:
    """A registered model and either a version number, an alias, or neither (latest)."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}@{self.version}"
        return f"{self.name}@{self.alias}" if self.alias else self.name


@dataclass(frozen=True, slots=True)
class RunRef:
    run_id: str
    path: str


def parse_ref(text: str) -> VersionRef:
    """``churn``, ``churn@3``, ``churn/3``, ``churn@champion``, ``churn@latest`` (or models:/)."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidArgumentError(
            f"model reference must look like churn@3, churn/3 or churn@champion, got {text!r}"
        )
    body = text.strip().removeprefix("models:/").strip("/")
    if "@" in body:
        name, _, tail = body.partition("@")
    elif "/" in body:
        name, _, tail = body.partition("/")
    else:
        name, tail = body, ""
    if not _NAME.match(name):
        raise InvalidArgumentError(
            f"{text!r} does not start with a model name (letters, digits, '.', '_', '-')"
        )
    if not tail or tail == "latest":
        return VersionRef(name)
    if tail.isdigit():
        return VersionRef(name, version=int(tail))
    if "/" in body and "@" not in body:
        raise InvalidArgumentError(f"{text!r}: after '/' comes a version number, e.g. {name}/3")
    return VersionRef(name, alias=tail)


def parse_run_uri(uri: str) -> RunRef:
    body = uri.removeprefix("runs:/").strip("/")
    run_id, _, path = body.partition("/")
    if not run_id or not path:
        raise InvalidArgumentError(
            f"{uri!r} is not a run model URI; use runs:/<run id>/<artifact path>, e.g. "
            "runs:/0123abcd.../model"
        )
    return RunRef(run_id, path)


__all__ = ["RunRef", "VersionRef", "parse_ref", "parse_run_uri"]
