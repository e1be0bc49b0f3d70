"""Checks on names and keys shared by every repository."""

from __future__ import annotations

import re

from keel.exceptions import InvalidArgumentError

MAX_KEY = 250
MAX_NAME = 255
MAX_PARAM_VALUE = 8000
MAX_TAG_VALUE = 65535
_KEY = re.compile(r"^[\w .\-/:()\[\]@,+=]+$")


def check_key(kind: str, key: object) -> str:
    """A metric, param or tag key: 1-250 printable characters, no ``..`` path tricks."""
    if not isinstance(key, str) or not key:
        raise InvalidArgumentError(f"{kind} key must be a non-empty string, got {key!r}")
    if len(key) > MAX_KEY:
        raise InvalidArgumentError(
            f"{kind} key {key[:40]!r}... is {len(key)} characters; the limit is {MAX_KEY}"
        )
    if not _KEY.match(key) or ".." in key.split("/"):
        raise InvalidArgumentError(
            f"{kind} key {key!r} has characters keel does not allow; use letters, digits, "
            "spaces and . _ - / : ( ) [ ] @ , + ="
        )
    return key


def check_name(kind: str, name: object) -> str:
    """A human name (project, experiment, dataset, run): 1-255 characters, no control chars."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidArgumentError(f"{kind} name must be a non-empty string, got {name!r}")
    if len(name) > MAX_NAME:
        raise InvalidArgumentError(
            f"{kind} name {name[:40]!r}... is {len(name)} characters; the limit is {MAX_NAME}"
        )
    if any(ord(c) < 32 for c in name):
        raise InvalidArgumentError(f"{kind} name {name!r} contains control characters")
    return name


def check_value(kind: str, key: str, value: str, limit: int) -> str:
    if "\x00" in value:
        raise InvalidArgumentError(f"{kind} {key!r} value contains a NUL character")
    if len(value) > limit:
        raise InvalidArgumentError(
            f"{kind} {key!r} value is {len(value)} characters; the limit is {limit}. "
            "Log long text as an artifact instead."
        )
    return value
