"""``skops.io``, imported without the array-library shims scikit-learn vendors.

skops builds its list of trusted types at import by calling scikit-learn's
``all_estimators()``, which walks every scikit-learn package with ``pkgutil`` — and walking
imports each package, including ``sklearn.externals.array_api_compat.torch`` (all of torch,
seconds) and its Dask twin, although ``all_estimators`` skips ``externals`` and the list is the
same without them. :func:`skops_io` refuses those shims for the length of that one import
(``pkgutil`` ignores packages that fail to import); a failed import is not cached, so
scikit-learn's array-API dispatch can still import them later. Every keel module that
stores or loads a skops file imports skops through here.
"""

from __future__ import annotations

import importlib.abc
import sys
from types import ModuleType
from typing import Any

#: scikit-learn's vendored array-API shims that ``all_estimators`` never looks inside.
SKIPPED_SHIMS = tuple(
    f"sklearn.externals.array_api_compat.{name}" for name in ("torch", "dask", "cupy", "jax")
)


class _SkipShims(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        if fullname.startswith(SKIPPED_SHIMS):
            raise ModuleNotFoundError(f"{fullname} is not needed to list skops' trusted types")
        return None


def skops_io() -> ModuleType:
    """The ``skops.io`` module (imported on first use, without the shims above)."""
    loaded = sys.modules.get("skops.io")
    if loaded is not None:
        return loaded
    finder = _SkipShims()
    sys.meta_path.insert(0, finder)
    try:
        import skops.io
    finally:
        sys.meta_path.remove(finder)
    return skops.io


__all__ = ["SKIPPED_SHIMS", "skops_io"]
