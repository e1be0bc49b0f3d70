"""Relative paths inside a run, dataset or package: one checker every layer uses."""

from __future__ import annotations

import posixpath
import re
import unicodedata
from urllib.parse import unquote

from keel.exceptions import UnsafePathError

_DRIVE = re.compile(r"^[A-Za-z]:")
MAX_PATH = 1024


def safe_relpath(path: str, *, what: str = "artifact path") -> str:
    """Normalise ``path`` to a clean POSIX relative path, or raise UnsafePathError.

    Refused: empty paths, absolute paths, drive letters, backslashes, NUL and control
    characters, ``..`` segments (also percent-encoded, once or twice), and ``~``.
    """
    if not isinstance(path, str) or not path.strip():
        raise UnsafePathError(f"{what} must be a non-empty relative path, got {path!r}")
    if len(path) > MAX_PATH:
        raise UnsafePathError(f"{what} is {len(path)} characters; the limit is {MAX_PATH}")
    decoded = path
    for _ in range(3):  # catch %2e%2e%2f and %252e%252e%252f
        step = unquote(decoded)
        if step == decoded:
            break
        decoded = step
    for candidate in (path, decoded):
        _check(candidate, path, what)
    clean = posixpath.normpath(path)
    if clean in (".", "") or clean.startswith("../"):
        raise UnsafePathError(f"{what} {path!r} does not name a file inside its folder")
    return clean


def _check(candidate: str, original: str, what: str) -> None:
    if any(unicodedata.category(c) == "Cc" for c in candidate):
        raise UnsafePathError(f"{what} {original!r} contains control characters (NUL, newline...)")
    if "\\" in candidate:
        raise UnsafePathError(f"{what} {original!r} contains a backslash; use '/' between folders")
    if candidate.startswith(("/", "~")) or _DRIVE.match(candidate):
        raise UnsafePathError(f"{what} {original!r} is absolute; give a path relative to the run")
    if any(part == ".." for part in candidate.split("/")):
        raise UnsafePathError(f"{what} {original!r} contains '..'; it must stay inside its folder")
