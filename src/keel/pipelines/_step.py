"""``@keel.step``: a plain function the framework can cache, retry, time out and place.

Outside a pipeline a step is just its function (``clean(df)`` runs ``clean``), so unit
tests and notebooks call it directly. Inside a pipeline being built it returns a handle.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypedDict, Unpack, overload

from keel.exceptions import InvalidArgumentError
from keel.pipelines import _codeversion
from keel.pipelines._codeversion import WrapsFunction
from keel.pipelines._resources import Resources
from keel.pipelines._trace import Handle, current_tracer


class StepOptions(TypedDict, total=False):
    """The keyword options of :func:`step`, each as :class:`Step` takes and defaults it."""

    name: str | None
    cache: bool
    retries: int
    retry_backoff: float
    timeout: float | None
    resources: Resources | None
    version: str | None
    outputs: int | None


class Step(WrapsFunction):
    """A function wrapped as a pipeline step, with its caching and execution policy."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        cache: bool = True,
        retries: int = 0,
        retry_backoff: float = 1.0,
        timeout: float | None = None,
        resources: Resources | None = None,
        version: str | None = None,
        outputs: int | None = None,
    ) -> None:
        if not callable(fn):
            raise InvalidArgumentError(f"@keel.step needs a function, got {fn!r}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise InvalidArgumentError(f"retries must be a whole number >= 0, got {retries!r}")
        if timeout is not None and timeout <= 0:
            raise InvalidArgumentError(
                f"timeout must be a positive number of seconds, not {timeout!r}"
            )
        if resources is not None and not isinstance(resources, Resources):
            raise InvalidArgumentError(
                f"resources must be keel.Resources(...), got {type(resources).__name__}"
            )
        self.fn = fn
        self.name: str = name or str(getattr(fn, "__name__", "step"))
        self.cache = cache
        self.retries = retries
        self.retry_backoff = float(retry_backoff)
        self.timeout = timeout
        self.resources = resources or Resources()
        self.version = version
        self.signature = inspect.signature(fn)
        self.n_outputs = outputs if outputs is not None else _tuple_arity(fn)
        functools.update_wrapper(self, fn)

    def __repr__(self) -> str:
        return f"<keel step {self.name!r}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        tracer = current_tracer()
        if tracer is None:
            return self.fn(*args, **kwargs)
        return tracer.call(self, args, kwargs)

    def map(self, items: Iterable[Any], *args: Any, **kwargs: Any) -> list[Any]:
        """Fan out: one call per item (passed first), run in parallel by parallel runners.

        Returns a list of handles inside a pipeline (pass it on as a list), or a list of
        results when called directly.
        """
        items = list(items)
        tracer = current_tracer()
        if tracer is None:
            return [self.fn(item, *args, **kwargs) for item in items]
        group = tracer.next_group(self.name)
        return [
            tracer.call(self, (item, *args), kwargs, node_id=f"{group}[{i}]", group=group)
            for i, item in enumerate(items)
        ]

    def bind(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """The call's arguments by parameter name, or an error naming the step."""
        try:
            return dict(self.signature.bind(*args, **kwargs).arguments)
        except TypeError as exc:
            raise InvalidArgumentError(f"step {self.name!r} was called wrongly: {exc}") from None

    def call_with(self, arguments: Mapping[str, Any]) -> Any:
        bound = inspect.BoundArguments(self.signature, dict(arguments))
        return self.fn(*bound.args, **bound.kwargs)

    @functools.cached_property
    def code_version(self) -> str:
        """Hash of this step's source and the project code it calls (or ``version=``)."""
        return self.version or _codeversion.code_version(self.fn)

    @functools.cached_property
    def packages(self) -> dict[str, str]:
        """Versions of the installed packages this step's code uses."""
        return _codeversion.package_versions(self.fn)

    def __getstate__(self) -> dict[str, Any]:
        # Computed on the driver; a worker never needs them and they may not pickle small.
        state = dict(self.__dict__)
        state.pop("code_version", None)
        state.pop("packages", None)
        return state


def _tuple_arity(fn: Callable[..., Any]) -> int | None:
    """How many values ``fn`` returns when annotated ``-> tuple[A, B]`` (else None)."""
    try:
        ret = typing.get_type_hints(fn).get("return")
    except Exception:
        return None
    if typing.get_origin(ret) is tuple:
        args = typing.get_args(ret)
        if args and Ellipsis not in args:
            return len(args)
    return None


@overload
def step(fn: Callable[..., Any], /) -> Step: ...


@overload
def step(**options: Unpack[StepOptions]) -> Callable[[Callable[..., Any]], Step]: ...


def step(
    fn: Callable[..., Any] | None = None, /, **options: Unpack[StepOptions]
) -> Step | Callable[[Callable[..., Any]], Step]:
    """Make ``fn`` a pipeline step.

    ``cache=False`` always runs it; ``retries`` re-runs a failure after ``retry_backoff``
    seconds, doubling each time; ``timeout`` fails an attempt that runs longer (seconds);
    ``resources`` is what the runner must provide; ``version`` pins the code version
    instead of hashing the source; ``outputs`` says how many values it returns.
    """

    def wrap(f: Callable[..., Any]) -> Step:
        return Step(f, **options)

    return wrap(fn) if fn is not None else wrap


__all__ = ["Handle", "Step", "step"]
