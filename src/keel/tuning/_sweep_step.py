"""``keel.sweep_step``: a sweep around a training step, as one step of a pipeline.

``keel.sweep_step(train, space, trials=20)`` is a pipeline step that takes ``train``'s
arguments except the ones the space searches (the upstream outputs: features, splits) and
runs a sweep whose objective calls ``train`` with those arguments plus one value per space
entry. The pipeline caches the upstream steps as usual, so they run once; the sweep step
itself always runs, and :func:`keel.sweep` decides what that means: the same data and
code resume the sweep (nothing to do once its budget is spent), changed inputs or code
start a new generation, warm-started from the best old configurations. Its output is a
small dict: the sweep, its generation, the best params, value and trial run.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from keel.exceptions import InvalidArgumentError, KeelError
from keel.pipelines import Step
from keel.pipelines._codeversion import WrapsFunction
from keel.tracking import active_run, get_client
from keel.tuning._space import Space, load_space
from keel.tuning._sweep import sweep


class SweepFailedError(KeelError):
    """Every trial of a sweep step failed (or none completed): the step fails with why."""


class _SweepAround(WrapsFunction):
    """The callable a sweep step runs: ``train``'s fixed arguments in, the best result out.
    Its code version is ``train``'s (a :class:`WrapsFunction`)."""

    def __init__(self, train: Callable[..., Any], space: Space, options: dict[str, Any]) -> None:
        self._train = train  # not ``fn`` in __dict__: Step copies this object's __dict__
        self.space = space
        self.options = options
        signature = inspect.signature(train)
        missing = sorted(set(space.spec) - set(signature.parameters))
        if missing:
            raise InvalidArgumentError(
                f"the space searches {', '.join(missing)}, which "
                f"{getattr(train, '__name__', 'the step')} does not take as parameters"
            )
        fixed = [p for p in signature.parameters.values() if p.name not in space.spec]
        self.__signature__ = signature.replace(parameters=fixed, return_annotation=dict)
        self.__name__ = f"sweep_{getattr(train, '__name__', 'step')}"
        self.__module__ = getattr(train, "__module__", __name__)

    @property
    def fn(self) -> Callable[..., Any]:  # type: ignore[override]
        return self._train

    def __call__(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        fixed = dict(self.__signature__.bind(*args, **kwargs).arguments)
        train = self.fn

        def objective(params: dict[str, Any]) -> Any:
            return train(**fixed, **params)

        run = active_run()
        client = getattr(run, "client", None) or get_client()
        options = dict(self.options)
        name = options.pop("name", None) or getattr(train, "__name__", "sweep")
        result = sweep(objective, self.space, name=name, data=fixed, client=client, **options)
        if result.status == "failed":
            raise SweepFailedError(f"sweep {name!r} failed: {result.reason}")
        best = result.best
        return {
            "sweep": result.sweep.name,
            "generation": result.sweep.generation,
            "best_params": result.best_params,
            "best_value": None if best is None or not best.values else best.values[0],
            "best_run": None if best is None else best.run_id,
            "trials": len(result.trials),
            "warm_started": result.warm_started,
        }


def sweep_step(
    train: Callable[..., Any],
    space: Space | Mapping[str, Any] | str,
    *,
    name: str | None = None,
    **options: Any,
) -> Step:
    """A pipeline step that sweeps ``space`` over ``train`` (a step or a function).

    ``options`` are :func:`keel.sweep`'s (``trials``, ``direction``, ``sampler``,
    ``parallel``, ``runner`` ...). ``train`` returns the number to optimise; what it logs
    lands in its trial's run. Outside a pipeline the step is a plain call, like any step.
    """
    fn = train.fn if isinstance(train, Step) else train
    if not callable(fn):
        raise InvalidArgumentError(f"keel.sweep_step needs a function or a step, got {train!r}")
    if "trials" not in options and "timeout" not in options:
        raise InvalidArgumentError("give a sweep step a budget: trials=N, timeout=seconds or both")
    checked = load_space(space)
    around = _SweepAround(fn, checked, {**options, "name": name})
    return Step(around, name=around.__name__, cache=False)


__all__ = ["SweepFailedError", "sweep_step"]
