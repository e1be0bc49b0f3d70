"""Model URIs and references.

``load`` accepts a local folder or archive, ``models:/churn/3``, ``models:/churn@champion``,
``models:/churn`` (the newest version) and ``runs:/<run id>/<artifact path>``. The CLI
accepts the short forms ``churn@3``, ``churn/3``, ``churn@champion`` and ``churn``, and so
does every other place that names a model (one grammar: :func:`parse_ref`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from keel.exceptions import InvalidArgumentError

_NAME = re.compile(r"^[A-Za-z0-9][\w.\-]{0,254}$")
_ALIAS = re.compile(r"^[A-Za-z0-9][\w\-]{0,254}$")


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A registered model and a version number, or an alias, or neither (the newest).

    The one model-reference grammar of keel: the registry, ``keel.models.load``, the CLI,
    deployment specs and the serving runtime all parse with :func:`parse_ref`. A version
    pins; an alias (or the newest version) can move, so a server re-resolves it.
    """

    name: str
    version: int | None = None
    alias: str | None = None

    @property
    def follows(self) -> bool:
        """True when the version behind this reference can change (alias or latest)."""
        return self.version is None

    @property
    def uri(self) -> str:
        """The registry URI ``keel.models.load`` understands."""
        return f"models:/{self}"

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}/{self.version}"
        return f"{self.name}@{self.alias}" if self.alias else self.name


#: The registry's historical name for a model reference (the same class).
VersionRef = ModelRef


@dataclass(frozen=True, slots=True)
class RunRef:
    run_id: str
    path: str


def parse_ref(text: str) -> ModelRef:
    """``churn``, ``churn@latest``, ``churn/3``, ``churn@3``, ``churn@champion``, each
    optionally prefixed ``models:/``. Versions count from 1."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidArgumentError(
            f"model reference must look like churn@champion, churn/3 or churn, got {text!r}"
        )
    raw = text.strip()
    body = raw.removeprefix("models:/").rstrip("/")
    name, tail, pinned = body, "", False
    if "@" in body:
        name, _, tail = body.partition("@")
    elif "/" in body:
        name, _, tail = body.rpartition("/")
        pinned = True
    if not _NAME.match(name):
        raise InvalidArgumentError(
            f"model reference {raw!r} has model name {name!r}; use letters, digits, '.', '_' "
            "or '-' (for example churn@champion, churn/3 or models:/churn@champion)"
        )
    if tail.isdigit() or pinned:
        if not tail.isdigit() or int(tail) < 1:
            raise InvalidArgumentError(
                f"model reference {raw!r} has version {tail!r}; a version is a number from 1 "
                f"(for example {name}/3)"
            )
        return ModelRef(name, version=int(tail))
    if tail in ("", "latest"):
        return ModelRef(name)
    if not _ALIAS.match(tail):
        raise InvalidArgumentError(
            f"model reference {raw!r} has alias {tail!r}; an alias holds letters, digits, '_' "
            f"or '-' (for example {name}@champion)"
        )
    return ModelRef(name, alias=tail)


#: What serving and deployment specs call :func:`parse_ref`.
parse_model_ref = parse_ref


def parse_run_uri(uri: str) -> RunRef:
    body = uri.removeprefix("runs:/").strip("/")
    run_id, _, path = body.partition("/")
    if not run_id or not path:
        raise InvalidArgumentError(
            f"{uri!r} is not a run model URI; use runs:/<run id>/<artifact path>, e.g. "
            "runs:/0123abcd.../model"
        )
    return RunRef(run_id, path)


__all__ = ["ModelRef", "RunRef", "VersionRef", "parse_model_ref", "parse_ref", "parse_run_uri"]
