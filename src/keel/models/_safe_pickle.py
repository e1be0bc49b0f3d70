"""Load a pickle or joblib file through the allowlisting unpickler, on an explicit decision.

The load *is* the scan (:func:`keel.models._scan.scan_stream`): one pass of Python's own
unpickler restricted to the allowlist, so what was checked is exactly what is returned.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from keel.exceptions import UnsafeModelError
from keel.models._scan import MAX_INFLATED_BYTES, scan_stream


def load_pickle_file(
    path: str | Path,
    *,
    trust: bool,
    trusted_globals: frozenset[str] = frozenset(),
    budget: int = MAX_INFLATED_BYTES,
) -> Any:
    """Unpickle ``path`` (plain pickle or joblib); ``trust=True`` is the explicit decision."""
    path = Path(path)
    if not trust:
        raise UnsafeModelError(
            f"{path.name} is a pickle-family file; loading one runs code chosen by its author. "
            "keel loads it only with an explicit trust decision (trust_pickle=True / "
            "--trust-pickle), through an allowlisting unpickler"
        )
    kept: list[Any] = []
    with open(path, "rb") as f:
        result = scan_stream(f, path.name, trusted_globals, budget, keep=kept)
    result.raise_if_unsafe()
    if result.kind not in ("pickle", "joblib") or not kept:
        raise UnsafeModelError(f"{path.name} is not a pickle or joblib file (found {result.kind})")
    return kept[0]


__all__ = ["load_pickle_file"]
