"""The python-function flavor: custom prediction code shipped as source, not as a pickle.

Subclass :class:`PythonModel`, put it in a module file, and save an instance: the
module's source (or the ``code_paths`` given) is copied into ``code/`` and named files
into ``artifacts/``. Loading imports the class from ``code/`` and calls ``load_context``
with the artifact paths; the instance's own attributes are not saved (that would need
pickle). Running the code is a trust decision: the package signature covers every
source file, so under the ``strict`` policy only trusted signers' code runs.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.exceptions import InvalidArgumentError, UntrustedModelError
from keel.models._flavor_base import LoadOptions, NoProba, Saved, pins, versions
from keel.store.paths import safe_relpath

if TYPE_CHECKING:
    import pandas as pd

CODE_DIR = "code"
ARTIFACTS_DIR = "artifacts"


class PythonModel:
    """Base class of custom models: implement ``predict``; override ``load_context`` if needed."""

    def load_context(self, artifacts: Mapping[str, Path]) -> None:
        """Read the files saved with the model (``artifacts={"name": path}`` at save time).

        Read everything needed here: a package loaded from an archive is unpacked into a
        temporary folder that is removed once loading ends.
        """

    def predict(self, frame: pd.DataFrame) -> Any:
        raise NotImplementedError("PythonModel subclasses implement predict(frame)")


class PythonBackend(NoProba):
    def __init__(self, model: PythonModel) -> None:
        self.raw = model

    def predict(self, frame: pd.DataFrame) -> Any:
        return self.raw.predict(frame)

    def predict_proba(self, frame: pd.DataFrame) -> Any:
        if hasattr(self.raw, "predict_proba"):
            return self.raw.predict_proba(frame)
        return super().predict_proba(frame)


class PythonFlavor:
    name = "python"

    def __init__(
        self,
        code_paths: Sequence[str | Path] | None = None,
        artifacts: Mapping[str, str | Path] | None = None,
    ) -> None:
        self.code_paths = code_paths
        self.artifacts = artifacts or {}

    def matches(self, model: Any) -> bool:
        return isinstance(model, PythonModel)

    def save(self, model: Any, folder: Path, example: pd.DataFrame) -> Saved:
        loader = copy_code(type(model), self.code_paths, folder)
        saved_artifacts = {}
        for name, src in self.artifacts.items():
            rel = f"{ARTIFACTS_DIR}/{safe_relpath(name, what='artifact name')}"
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            if Path(src).is_dir():
                shutil.copytree(src, folder / rel)
            else:
                shutil.copy2(src, folder / rel)
            saved_artifacts[name] = rel
        config = {
            "loader": loader,
            "code": CODE_DIR,
            "artifacts": saved_artifacts,
        }
        frameworks = versions("pandas", "numpy")
        return Saved(config, frameworks, pins(frameworks), str(getattr(model, "task", "other")))

    def load(self, folder: Path, config: dict[str, Any], options: LoadOptions) -> PythonBackend:
        if not options.allow_code:
            raise UntrustedModelError(
                "this package runs Python code on load; it was refused because the package is "
                "not signed by a trusted key (sign it, or load with trust='warn')"
            )
        obj = load_class(folder / str(config.get("code", CODE_DIR)), str(config["loader"]))
        if not (isinstance(obj, type) and issubclass(obj, PythonModel)):
            raise InvalidArgumentError(f"{config['loader']} is not a keel PythonModel subclass")
        model = obj()
        artifacts = {
            k: folder / safe_relpath(str(v)) for k, v in config.get("artifacts", {}).items()
        }
        model.load_context(artifacts)
        return PythonBackend(model)


def copy_code(cls: type, code_paths: Sequence[str | Path] | None, folder: Path) -> str:
    """Copy the source defining ``cls`` into ``code/``; returns its ``module:qualname``.

    Without ``code_paths`` the file defining the class is copied alone; pass the folders
    (packages) it imports from otherwise.
    """
    if cls.__module__ == "__main__":
        raise InvalidArgumentError(
            f"{cls.__name__} is defined in the script being run; move it into a module file "
            "so the package can import it again"
        )
    code = folder / CODE_DIR
    code.mkdir()
    if code_paths is None:
        source = _source_of(cls)
        shutil.copy2(source, code / source.name)
        return f"{source.stem}:{cls.__qualname__}"
    for p in map(Path, code_paths):
        if not p.exists():
            raise InvalidArgumentError(f"code path {str(p)!r} does not exist")
        if p.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(p, code / p.name, ignore=ignore)
        else:
            shutil.copy2(p, code / p.name)
    return f"{cls.__module__}:{cls.__qualname__}"


def load_class(code_dir: Path, loader: str) -> Any:
    """The object ``module:qualname`` names, imported from a package's ``code/`` folder."""
    module_name, _, qualname = loader.partition(":")
    obj: Any = _import_from(code_dir, module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _import_from(code_dir: Path, module_name: str) -> Any:
    """Import ``module_name`` from the package's own ``code/`` folder.

    The top-level module gets a name unique to this folder, so two versions of the same
    custom model (served side by side) never share one module object.
    """
    top, _, rest = module_name.partition(".")
    file = code_dir / f"{top}.py"
    package = code_dir / top / "__init__.py"
    path = file if file.is_file() else package
    if not path.is_file():
        raise InvalidArgumentError(f"module {top!r} is not in the package's {CODE_DIR}/ folder")
    digest = hashlib.sha256(str(code_dir.resolve()).encode()).hexdigest()[:12]
    unique = f"_keel_code_{digest}_{top}"
    sys.path.insert(0, str(code_dir))  # for the module's own imports of sibling files
    # No __pycache__ in the package folder: the cache is verified on every load, and a
    # .pyc written there would be read as tampering (and is code nobody signed).
    writes_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        module = sys.modules.get(unique)
        if module is None:
            locations = [str(path.parent)] if path is package else None
            spec = importlib.util.spec_from_file_location(
                unique, path, submodule_search_locations=locations
            )
            if spec is None or spec.loader is None:
                raise InvalidArgumentError(f"cannot import {module_name} from {code_dir}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[unique] = module
            spec.loader.exec_module(module)
        return importlib.import_module(f"{unique}.{rest}") if rest else module
    finally:
        sys.dont_write_bytecode = writes_bytecode
        if str(code_dir) in sys.path:
            sys.path.remove(str(code_dir))


def _source_of(cls: type) -> Path:
    path = inspect.getsourcefile(cls)
    if path is None:
        raise InvalidArgumentError(
            f"cannot find the source file of {cls.__name__}; pass code_paths"
        )
    return Path(path)


__all__ = ["PythonFlavor", "PythonModel", "copy_code", "load_class"]
