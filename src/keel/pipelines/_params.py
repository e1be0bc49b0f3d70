"""Typed pipeline parameters: read from the function signature, overridden from Python,
the command line (``-p lr=0.1``) or a YAML file, and checked against their annotation.

An unknown name or a value of the wrong type is an error that names the parameter, the
value and the expected type, before any step runs.
"""

from __future__ import annotations

import difflib
import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keel._yaml import load_yaml
from keel.exceptions import InvalidArgumentError

MISSING: Any = inspect.Parameter.empty


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a pipeline: its name, type and default (``MISSING`` when required)."""

    name: str
    annotation: Any
    default: Any

    @property
    def required(self) -> bool:
        return self.default is MISSING

    @property
    def type_text(self) -> str:
        if self.annotation is Any:
            return "any"
        if isinstance(self.annotation, type):
            return self.annotation.__name__
        return str(self.annotation).replace("typing.", "")


def param_specs(fn: Callable[..., Any], what: str) -> dict[str, ParamSpec]:
    """The parameters of ``fn``; ``*args``/``**kwargs`` are refused (they cannot be typed)."""
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # unresolvable forward reference: fall back to defaults' types
        hints = {}
    specs: dict[str, ParamSpec] = {}
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise InvalidArgumentError(
                f"{what} takes *{p.name}; a pipeline's parameters must be named so they can "
                "be typed and overridden with -p NAME=VALUE"
            )
        annotation = hints.get(p.name, MISSING)
        if annotation is MISSING:
            annotation = Any if p.default in (MISSING, None) else type(p.default)
        specs[p.name] = ParamSpec(p.name, annotation, p.default)
    return specs


def resolve_params(
    what: str,
    specs: Mapping[str, ParamSpec],
    values: Mapping[str, Any] | None = None,
    *,
    file_values: Mapping[str, Any] | None = None,
    strings: Mapping[str, str] | None = None,
    unchecked: Callable[[Any], bool] = lambda _value: False,
) -> dict[str, Any]:
    """Defaults, overridden by a YAML file, then Python ``values``, then command-line text.

    Values for which ``unchecked`` is true (step outputs passed to a nested pipeline) are
    passed through as they are.
    """
    given: dict[str, tuple[Any, str]] = {k: (v, "file") for k, v in (file_values or {}).items()}
    given.update({k: (v, "python") for k, v in (values or {}).items()})
    given.update({k: (v, "text") for k, v in (strings or {}).items()})
    for name in given:
        if name not in specs:
            raise InvalidArgumentError(_unknown(what, name, specs))
    out: dict[str, Any] = {}
    for name, spec in specs.items():
        if name in given:
            raw, mode = given[name]
            out[name] = raw if unchecked(raw) else coerce(what, spec, raw, mode=mode)
        elif spec.required:
            raise InvalidArgumentError(
                f"{what} needs parameter {name!r} ({spec.type_text}); pass it with "
                f"-p {name}=VALUE or as a keyword argument"
            )
        else:
            out[name] = spec.default
    return out


def _unknown(what: str, name: str, specs: Mapping[str, ParamSpec]) -> str:
    known = ", ".join(specs) or "none"
    close = difflib.get_close_matches(name, list(specs), n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"{what} has no parameter {name!r}; its parameters are: {known}.{hint}"


def coerce(what: str, spec: ParamSpec, raw: Any, *, mode: str = "python") -> Any:
    """``raw`` as a value of the parameter's type, or a clear error.

    ``mode`` is where the value came from: ``python`` values are checked strictly ("0.1" is
    not a float; an int is), ``file`` (YAML) and ``text`` (``-p``) values are converted.
    """
    annotation = spec.annotation
    if mode == "text" and not _wants_text(annotation):
        raw = _parse_text(raw)
    if annotation is Any:
        return raw
    strict = mode == "python" and not (
        (isinstance(raw, str) and _wants_text(annotation))
        or (type(raw) is int and annotation is float)
    )
    from pydantic import TypeAdapter, ValidationError

    try:
        return TypeAdapter(annotation).validate_python(raw, strict=strict)
    except ValidationError as exc:
        errors = exc.errors()
        reason = errors[0].get("msg", str(exc)) if errors else str(exc)
        raise InvalidArgumentError(
            f"{what} parameter {spec.name!r} expects {spec.type_text}, got {raw!r} "
            f"({type(raw).__name__}): {reason}"
        ) from None
    except Exception as exc:  # an annotation pydantic cannot check: trust an isinstance test
        if isinstance(annotation, type) and isinstance(raw, annotation):
            return raw
        raise InvalidArgumentError(
            f"{what} parameter {spec.name!r} has a type keel cannot check ({spec.type_text}): {exc}"
        ) from None


def _wants_text(annotation: Any) -> bool:
    if annotation in (str, Path):
        return True
    args = typing.get_args(annotation)
    return bool(args) and all(a in (str, Path, type(None)) for a in args)


def _parse_text(text: Any) -> Any:
    """A command-line value as YAML (``0.1``, ``true``, ``[1, 2]``), else the text itself."""
    if not isinstance(text, str):
        return text
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def parse_assignments(items: list[str]) -> dict[str, str]:
    """``["lr=0.1", "name=x"]`` from the command line as a mapping of raw strings."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InvalidArgumentError(f"parameter {item!r} must look like NAME=VALUE (-p lr=0.1)")
        out[name.strip()] = value
    return out


def load_params_file(path: str | Path) -> dict[str, Any]:
    """A YAML (or JSON) file holding one mapping of parameter names to values."""
    p = Path(path)
    if not p.is_file():
        raise InvalidArgumentError(f"parameter file {str(p)!r} does not exist")
    data = load_yaml(p.read_text(encoding="utf-8"), f"parameter file {str(p)!r}")
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise InvalidArgumentError(
            f"parameter file {str(p)!r} must hold a mapping of names to values, like 'lr: 0.1'"
        )
    return data
