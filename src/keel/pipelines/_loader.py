"""Finding a pipeline from a target string: ``path/to/file.py:name`` or ``package.module:name``."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path

from keel.exceptions import InvalidArgumentError, NotFoundError
from keel.pipelines._pipeline import Pipeline


def load_pipeline(target: str) -> Pipeline:
    """The :class:`Pipeline` named by ``target``; the file's folder goes on ``sys.path`` so
    the file can import its sibling modules."""
    obj = load_target(target, "pipeline", "path/to/file.py:function or package.module:function")
    if not isinstance(obj, Pipeline):
        raise InvalidArgumentError(
            f"{target} is a {type(obj).__name__}, not a pipeline; decorate it with @keel.pipeline"
        )
    return obj


def load_target(target: str, kind: str, usage: str) -> object:
    """The object ``target`` names, ``path/to/file.py:name`` or ``package.module:name``
    (``usage`` spells that for a ``kind`` of target in the error)."""
    module_part, sep, attr = target.rpartition(":")
    if not sep or not module_part or not attr:
        raise InvalidArgumentError(f"{kind} target {target!r} must look like {usage}")
    if module_part.endswith(".py") or "/" in module_part:
        module = _load_file(Path(module_part), kind)
    else:
        try:
            module = importlib.import_module(module_part)
        except ImportError as exc:
            raise NotFoundError(f"cannot import module {module_part!r}: {exc}") from exc
    obj = getattr(module, attr, None)
    if obj is None:
        raise NotFoundError(f"{module_part} has no attribute {attr!r}")
    return obj


def _load_file(path: Path, kind: str) -> object:
    path = path.expanduser().absolute()
    if not path.is_file():
        raise NotFoundError(f"{kind} file {str(path)!r} does not exist")
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:10]
    name = f"keel_pipeline_{path.stem}_{digest}"
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InvalidArgumentError(f"{str(path)!r} is not a Python file keel can import")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module
