"""A search space from a dict or a YAML file, checked before any trial runs.

    lr:    {type: float, low: 1.0e-4, high: 0.1, log: true}
    depth: {type: int, low: 2, high: 8, step: 2}
    kind:  {type: categorical, choices: [gini, entropy]}

Each entry becomes an Optuna distribution. A malformed entry (unknown type, low > high,
a log range that reaches zero, empty choices, unknown keys) is refused with one line that
names the parameter, the value and what to write instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keel._yaml import load_yaml
from keel.exceptions import InvalidArgumentError

TYPES = ("float", "int", "categorical")
_KEYS = {
    "float": {"type", "low", "high", "log", "step"},
    "int": {"type", "low", "high", "log", "step"},
    "categorical": {"type", "choices"},
}


@dataclass(frozen=True)
class Space:
    """Named distributions; :meth:`suggest` asks an Optuna trial for one value of each."""

    spec: dict[str, dict[str, Any]]

    def distributions(self) -> dict[str, Any]:
        return {name: _distribution(name, entry) for name, entry in self.spec.items()}

    def suggest(self, trial: Any) -> dict[str, Any]:
        """One value per parameter from an Optuna trial (its public ``suggest_*`` API)."""
        out: dict[str, Any] = {}
        for name, entry in self.spec.items():
            kind = entry["type"]
            if kind == "categorical":
                out[name] = trial.suggest_categorical(name, list(entry["choices"]))
            elif kind == "int":
                out[name] = trial.suggest_int(
                    name,
                    int(entry["low"]),
                    int(entry["high"]),
                    step=int(entry.get("step") or 1),
                    log=bool(entry.get("log")),
                )
            else:
                out[name] = trial.suggest_float(
                    name,
                    float(entry["low"]),
                    float(entry["high"]),
                    step=entry.get("step"),
                    log=bool(entry.get("log")),
                )
        return out

    def __len__(self) -> int:
        return len(self.spec)


def load_space(source: Space | Mapping[str, Any] | str | os.PathLike[str]) -> Space:
    """A checked :class:`Space` from a mapping, a YAML/JSON file path or a YAML string."""
    if isinstance(source, Space):
        return source
    if isinstance(source, str | os.PathLike):
        source = _read(source)
    if not isinstance(source, Mapping) or not source:
        raise InvalidArgumentError(
            "a sweep space must be a non-empty mapping of parameter name to "
            "{type: float|int|categorical, ...}"
        )
    spec: dict[str, dict[str, Any]] = {}
    for name, entry in source.items():
        if not isinstance(name, str) or not name:
            raise InvalidArgumentError(f"space parameter names must be strings, got {name!r}")
        if not isinstance(entry, Mapping):
            raise InvalidArgumentError(
                f"space parameter {name!r} must be a mapping like "
                "{type: float, low: 0.0, high: 1.0}, got {entry!r}"
            )
        spec[name] = dict(entry)
        _distribution(name, spec[name])  # checks it
    return Space(spec)


def _read(path: str | os.PathLike[str]) -> Any:

    text = str(path)
    file = Path(text)
    if "\n" not in text and (file.suffix in (".yaml", ".yml", ".json") or file.exists()):
        if not file.is_file():
            raise InvalidArgumentError(f"space file {text!r} does not exist")
        text = file.read_text()
    return load_yaml(text, "the sweep space")


def _distribution(name: str, entry: Mapping[str, Any]) -> Any:
    from optuna import distributions as d

    kind = entry.get("type")
    if kind not in TYPES:
        raise InvalidArgumentError(
            f"space parameter {name!r}: unknown distribution type {kind!r}; "
            f"use one of {', '.join(TYPES)}"
        )
    extra = set(entry) - _KEYS[kind]
    if extra:
        raise InvalidArgumentError(
            f"space parameter {name!r}: unknown keys {sorted(extra)} for type {kind}; "
            f"allowed: {', '.join(sorted(_KEYS[kind]))}"
        )
    if kind == "categorical":
        choices = entry.get("choices")
        if not isinstance(choices, list | tuple) or not choices:
            raise InvalidArgumentError(
                f"space parameter {name!r}: choices must be a non-empty list, got {choices!r}"
            )
        bad = [c for c in choices if c is not None and not isinstance(c, bool | int | float | str)]
        if bad:
            raise InvalidArgumentError(
                f"space parameter {name!r}: choices must be None, bool, int, float or str; "
                f"got {bad[0]!r}"
            )
        return d.CategoricalDistribution(list(choices))
    low, high = _bound(name, entry, "low", kind), _bound(name, entry, "high", kind)
    if low > high:
        raise InvalidArgumentError(
            f"space parameter {name!r}: low {low!r} is greater than high {high!r}"
        )
    log = entry.get("log", False)
    if not isinstance(log, bool):
        raise InvalidArgumentError(f"space parameter {name!r}: log must be true or false")
    if log and low <= 0:
        raise InvalidArgumentError(
            f"space parameter {name!r}: a log range needs low > 0, got low {low!r}"
        )
    step = entry.get("step")
    if step is not None and (isinstance(step, bool) or not isinstance(step, int | float)):
        raise InvalidArgumentError(f"space parameter {name!r}: step must be a number")
    if step is not None and (step <= 0 or log):
        raise InvalidArgumentError(
            f"space parameter {name!r}: step must be > 0 and cannot be combined with log"
        )
    if kind == "int":
        return d.IntDistribution(int(low), int(high), log=log, step=int(step or 1))
    return d.FloatDistribution(float(low), float(high), log=log, step=step)


def _bound(name: str, entry: Mapping[str, Any], key: str, kind: str) -> float:
    value = entry.get(key)
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "int":
        ok = ok and float(value).is_integer()  # type: ignore[arg-type]
    if not ok:
        wanted = "an integer" if kind == "int" else "a number"
        raise InvalidArgumentError(
            f"space parameter {name!r}: {key} must be {wanted}, got {value!r}"
        )
    return value  # type: ignore[return-value]


__all__ = ["TYPES", "Space", "load_space"]
