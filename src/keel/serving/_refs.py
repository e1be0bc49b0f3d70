"""Model references a deployment names: ``churn@champion``, ``churn/7``, ``models:/churn@prod``.

A reference either pins a version (``/7`` or ``@7``) or follows an alias (``@champion``) that
can move in the registry; the server re-resolves aliases while it runs. A bare ``churn`` (or
``churn@latest``) means the newest version and follows new versions like an alias does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from keel.exceptions import InvalidArgumentError

_NAME = re.compile(r"^[A-Za-z0-9][\w.\-]{0,254}$")
_ALIAS = re.compile(r"^[A-Za-z][\w\-]{0,62}$")


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A parsed reference: exactly one of ``version`` and ``alias`` is set, or neither (latest)."""

    name: str
    version: str | None = None
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
        if self.alias is not None:
            return f"{self.name}@{self.alias}"
        return self.name


def parse_model_ref(text: str) -> ModelRef:
    """Parse ``NAME``, ``NAME@ALIAS``, ``NAME/VERSION`` (optionally prefixed ``models:/``)."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidArgumentError(
            f"model reference must be a non-empty string like 'churn@champion' or 'churn/3', "
            f"got {text!r}"
        )
    raw = text.strip()
    body = raw.removeprefix("models:/")
    name, alias, version = body, None, None
    if "@" in body:
        name, _, alias = body.partition("@")
        if alias.isdigit() and int(alias) >= 1:  # churn@3 is version 3, as keel.models reads it
            return parse_model_ref(f"{name}/{alias}")
        if alias == "latest":
            alias = None
        elif not _ALIAS.match(alias):
            raise InvalidArgumentError(
                f"model reference {raw!r} has alias {alias!r}; an alias starts with a letter "
                "and holds letters, digits, '_' or '-' (for example churn@champion)"
            )
    elif "/" in body:
        name, _, version = body.rpartition("/")
        if not version.isdigit() or int(version) < 1:
            raise InvalidArgumentError(
                f"model reference {raw!r} has version {version!r}; a version is a number from 1 "
                "(for example churn/3)"
            )
        version = str(int(version))
    if not _NAME.match(name):
        raise InvalidArgumentError(
            f"model reference {raw!r} has model name {name!r}; use letters, digits, '.', '_' "
            "or '-' (for example churn@champion, churn/3 or models:/churn@champion)"
        )
    return ModelRef(name=name, version=version, alias=alias)


__all__ = ["ModelRef", "parse_model_ref"]
