"""Load a pickle or joblib file only after a clean scan, through an allowlisting unpickler.

Two layers: :func:`keel.models._scan.scan_file` reads the opcodes without running them,
and the unpickler's ``find_class`` checks every global again while loading, so a gap in
one layer is closed by the other.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from keel.exceptions import UnsafeModelError
from keel.models._allowlist import global_verdict
from keel.models._scan import scan_file


def _guarded_find_class(trusted: frozenset[str], label: str) -> Any:
    def find_class(self: Any, module: str, name: str) -> Any:
        verdict = global_verdict(module, name, trusted)
        if verdict is not None:
            raise UnsafeModelError(
                f"{label} tried to import {module}.{name} while loading ({verdict}); refused"
            )
        return super(type(self), self).find_class(module, name)

    return find_class


def load_pickle_file(
    path: str | Path, *, trust: bool, trusted_globals: frozenset[str] = frozenset()
) -> Any:
    """Unpickle ``path`` (plain pickle or joblib); ``trust=True`` is the explicit decision."""
    path = Path(path)
    if not trust:
        raise UnsafeModelError(
            f"{path.name} is a pickle-family file; loading one runs code chosen by its author. "
            "keel loads it only with an explicit trust decision (trust_pickle=True / "
            "--trust-pickle) and after a clean scan"
        )
    result = scan_file(path, trusted_globals=trusted_globals)
    result.raise_if_unsafe()
    if result.kind == "joblib":
        return _load_joblib(path, trusted_globals)
    if result.kind != "pickle":
        raise UnsafeModelError(f"{path.name} is not a pickle or joblib file (found {result.kind})")
    restricted = type(
        "_Restricted",
        (pickle.Unpickler,),
        {"find_class": _guarded_find_class(trusted_globals, path.name)},
    )
    with open(path, "rb") as f:
        return restricted(f).load()


def _load_joblib(path: Path, trusted: frozenset[str]) -> Any:
    from joblib import numpy_pickle, numpy_pickle_utils

    restricted = type(
        "_RestrictedJoblib",
        (numpy_pickle.NumpyUnpickler,),
        {"find_class": _guarded_find_class(trusted, path.name)},
    )
    with (
        open(path, "rb") as raw,
        numpy_pickle_utils._validate_fileobject_and_memmap(raw, str(path), None) as (fobj, _mmap),
    ):
        if isinstance(fobj, str):
            raise UnsafeModelError(f"{path.name} uses joblib's pre-0.10 format; re-save it")
        unpickler = restricted(str(path), fobj, ensure_native_byte_order=True)
        return unpickler.load()


__all__ = ["load_pickle_file"]
