"""Declared pre- and post-processing steps, referenced by import path (``pkg.mod:func``).

A deployment names the very functions its training pipeline used, so serving runs the same
code (RL_4). A pipeline step object is unwrapped to its plain function. Resolution happens
once at load time; a path that does not import or does not name a callable is refused with
the path in the message. Pre steps take and return a DataFrame; post steps take the model's
output and, if they accept a second argument, the (transformed) input frame.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from keel.exceptions import InvalidArgumentError

_PATH = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def resolve_callable(path: str) -> Callable[..., Any]:
    """The function ``module.sub:attr`` names (no eval: import, then attribute lookups)."""
    if not isinstance(path, str) or not _PATH.match(path):
        raise InvalidArgumentError(
            f"transform {path!r} is not an import path; write it as package.module:function"
        )
    module_name, _, attr = path.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidArgumentError(
            f"transform {path!r}: module {module_name!r} does not import ({exc}); install the "
            "package that holds it or fix the path"
        ) from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise InvalidArgumentError(
                f"transform {path!r}: {module_name!r} has no attribute {attr!r}"
            ) from None
    for unwrap in ("fn", "func", "__wrapped__"):  # a pipeline @step keeps its function here
        inner = getattr(obj, unwrap, None)
        if callable(inner) and not isinstance(obj, type):
            obj = inner
            break
    if not callable(obj):
        raise InvalidArgumentError(
            f"transform {path!r} names a {type(obj).__name__}, not a function"
        )
    return obj


@dataclass(frozen=True)
class Transforms:
    """The resolved pre and post steps of one endpoint, applied around ``predict``."""

    pre: tuple[Callable[[Any], Any], ...] = ()
    post: tuple[tuple[Callable[..., Any], bool], ...] = ()  # (function, takes inputs)
    paths: tuple[str, ...] = ()

    @classmethod
    def resolve(cls, pre: Sequence[str], post: Sequence[str]) -> Transforms:
        pre_fns = tuple(resolve_callable(p) for p in pre)
        post_fns = tuple((fn, _takes_two(fn)) for fn in (resolve_callable(p) for p in post))
        return cls(pre_fns, post_fns, (*pre, *post))

    @property
    def empty(self) -> bool:
        return not self.pre and not self.post

    def before(self, frame: Any) -> Any:
        for fn in self.pre:
            frame = fn(frame)
        return frame

    def after(self, output: Any, frame: Any) -> Any:
        for fn, two in self.post:
            output = fn(output, frame) if two else fn(output)
        return output


def _takes_two(fn: Callable[..., Any]) -> bool:
    try:
        params = [
            p
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        return False
    return len(params) >= 2


__all__ = ["Transforms", "resolve_callable"]
