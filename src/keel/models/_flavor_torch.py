"""PyTorch modules: weights in safetensors (never ``torch.save`` pickles), code as source.

The module's class is copied into ``code/`` like the python-function flavor, its
constructor keyword arguments go in the manifest (``SaveOptions.model_kwargs`` or a
``keel_init_kwargs`` attribute on the module), and the weights go in
``model.safetensors``. Loading rebuilds the module from code and reads the weights with
``safetensors`` (a format of raw tensors and a JSON header, nothing to execute).
Predictions run in ``eval()`` mode without gradients on float32 input.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.exceptions import ConfigError, InvalidArgumentError
from keel.models._flavor_base import LoadOptions, NoProba, Saved, pins, versions
from keel.models._flavor_python import CODE_DIR, copy_code, load_class

if TYPE_CHECKING:
    import pandas as pd

FILE = "model.safetensors"


def _torch() -> Any:
    try:
        import safetensors.torch  # noqa: F401
        import torch
    except ImportError as exc:
        raise ConfigError(
            "PyTorch models need torch and safetensors: pip install 'keel[torch]' "
            "(install the CPU build of torch first if you have no GPU)"
        ) from exc
    return torch


def is_module_class(cls: Any) -> bool:
    return isinstance(cls, type) and any(
        c.__name__ == "Module" and c.__module__ == "torch.nn.modules.module" for c in cls.__mro__
    )


def is_torch_module(model: Any) -> bool:
    return is_module_class(type(model))


class TorchBackend(NoProba):
    def __init__(self, module: Any, task: str) -> None:
        self.raw = module
        self._task = task

    def _forward(self, frame: pd.DataFrame) -> Any:
        torch = _torch()
        with torch.no_grad():
            out = self.raw(torch.from_numpy(frame.to_numpy(dtype="float32", copy=True)))
        return out.numpy()

    def predict(self, frame: pd.DataFrame) -> Any:
        out = self._forward(frame)
        if out.ndim == 2 and out.shape[1] == 1:
            return out.ravel()
        if self._task == "classification" and out.ndim == 2:
            return out.argmax(axis=1)
        return out

    def predict_proba(self, frame: pd.DataFrame) -> Any:
        if self._task != "classification":
            return super().predict_proba(frame)
        return self._forward(frame)  # the module's per-class outputs, as it computes them


class TorchFlavor:
    name = "torch"

    def __init__(
        self,
        code_paths: Sequence[str | Path] | None = None,
        model_kwargs: Mapping[str, Any] | None = None,
        task: str | None = None,
    ) -> None:
        self.code_paths = code_paths
        self.model_kwargs = model_kwargs
        self.task = task

    def matches(self, model: Any) -> bool:
        return is_torch_module(model)

    def save(self, model: Any, folder: Path, example: pd.DataFrame) -> Saved:
        from safetensors.torch import save_model

        kwargs = dict(self.model_kwargs or getattr(model, "keel_init_kwargs", None) or {})
        try:
            json.dumps(kwargs)
        except TypeError as exc:
            raise InvalidArgumentError(
                f"the constructor arguments of {type(model).__name__} must be JSON values "
                f"(numbers, text, lists, dicts): {exc}"
            ) from exc
        loader = copy_code(type(model), self.code_paths, folder)
        save_model(model, str(folder / FILE))
        frameworks = versions("torch", "safetensors", "numpy")
        task = self.task or "other"
        config = {
            "file": FILE,
            "loader": loader,
            "code": CODE_DIR,
            "init_kwargs": kwargs,
            "task": task,
        }
        return Saved(config, frameworks, pins(frameworks), task)

    def load(self, folder: Path, config: dict[str, Any], options: LoadOptions) -> TorchBackend:
        from keel.exceptions import UntrustedModelError

        _torch()
        from safetensors.torch import load_model

        if not options.allow_code:
            raise UntrustedModelError("this package runs Python code on load and is not trusted")
        cls = load_class(folder / str(config.get("code", CODE_DIR)), str(config["loader"]))
        if not is_module_class(cls):
            raise InvalidArgumentError(f"{config['loader']} is not a torch.nn.Module subclass")
        module = cls(**dict(config.get("init_kwargs") or {}))
        # From a verified file (safetensors resolves tied weights only when it reads a file
        # itself): the private copy of a large file, else the package's own file.
        name = str(config.get("file", FILE))
        load_model(module, str(options.copies.get(name, folder / name)))
        module.eval()
        return TorchBackend(module, str(config.get("task", "other")))


__all__ = ["TorchBackend", "TorchFlavor", "is_module_class", "is_torch_module"]
