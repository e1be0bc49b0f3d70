"""A stored trial's params in their external form, without importing Optuna.

The store keeps each param as Optuna's internal float beside its distribution as Optuna's
own JSON (``distribution_to_json``). Turning one back needs only the distribution's kind:
an int distribution rounds to ``int``, a categorical one indexes its choices, a float one
is the float itself (Optuna's ``to_external_repr``). Reading them this way keeps Optuna
(~1-3 s to import) off the page and CLI paths that only show trials;
:func:`keel.tuning._sweep_storage.frozen` stays the way to rebuild a trial for Optuna, and
a test holds the two to the same answers for every distribution.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from keel.store._sweep_types import Trial

_INT_KINDS = ("IntDistribution", "IntUniformDistribution", "IntLogUniformDistribution")


@functools.lru_cache(maxsize=1024)
def _decoder(text: str) -> tuple[str, tuple[Any, ...]]:
    """(``int`` | ``float`` | ``choice``, the choices) for one distribution's JSON (the
    full ``{"name", "attributes"}`` form or the short ``{"type": ...}`` one)."""
    spec = json.loads(text)
    name = spec.get("name")
    if name is None:  # the abbreviated form
        kind = spec.get("type")
        if kind == "categorical":
            return "choice", tuple(spec.get("choices") or ())
        return ("int" if kind == "int" else "float"), ()
    if name == "CategoricalDistribution":
        return "choice", tuple(spec.get("attributes", {}).get("choices") or ())
    return ("int" if name in _INT_KINDS else "float"), ()


def external_value(distribution: str, value: float) -> Any:
    """One param's external value from its internal float and distribution JSON."""
    kind, choices = _decoder(distribution)
    if kind == "int":
        return int(value)
    if kind == "choice":
        return choices[int(value)]
    return value


def external_params(trial: Trial) -> dict[str, Any]:
    """``trial``'s params as the objective saw them (those with a stored distribution)."""
    return {
        name: external_value(trial.distributions[name], value)
        for name, value in trial.params.items()
        if name in trial.distributions
    }


__all__ = ["external_params", "external_value"]
