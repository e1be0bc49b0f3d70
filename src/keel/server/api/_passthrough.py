"""Routes that only call one protocol method, built from its entry in the route table.

A pass-through route takes the method's parameters (path fields from the path, the others
from the query string), checks access (the router's project scope, the route's role
dependency and, for an object addressed by id, ``owner``) and answers the method's
result: the value itself, ``{key: value}`` where :data:`keel.store.wire_routes.ROUTES`
names an answer key, or ``{}`` for a command. FastAPI reads the handler's
``__signature__`` and name, so the operation (parameters, operationId, summary,
description) is the one a hand-written function of that name would have. A route that
does anything more is written by hand.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import NoneType, UnionType
from typing import Any, get_args

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from keel.server._auth import Guard
from keel.server._types import Id, Loose
from keel.store import wire
from keel.store.protocols import PROTOCOLS
from keel.store.wire import Empty, envelope
from keel.store.wire_routes import ROUTES, Route, path_fields

#: The request type of a protocol parameter type, bounded so that no value reaches the
#: database that it cannot hold; a parameter of any other type names its own.
BOUNDS: dict[Any, Any] = {int: Id, str: Loose, bool: bool}


def _bounded(tp: Any) -> Any:
    if isinstance(tp, UnionType) and NoneType in get_args(tp):
        (inner,) = set(get_args(tp)) - {NoneType}
        return BOUNDS[inner] | None
    return BOUNDS[tp]


def _parameter(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> Any:
    kind = inspect.Parameter.KEYWORD_ONLY
    return inspect.Parameter(name, kind, default=default, annotation=annotation)


def _request(
    route: Route, fn: Any, hints: dict[str, Any], body: type[BaseModel] | None, bounds: Any
) -> tuple[list[inspect.Parameter], dict[str, str]]:
    """The handler's parameters (path fields, query parameters, the body) and, for a body
    model, which of its fields (by wire name) carries each other protocol parameter."""
    fields = path_fields(route.path)
    protocol = [p for p in inspect.signature(fn).parameters.values() if p.name != "self"]
    taken = [p for p in protocol if (body is None and p.name != route.body) or p.name in fields]
    params = [
        _parameter(p.name, bounds.get(p.name) or _bounded(hints[p.name]), p.default) for p in taken
    ]
    if route.body:
        whole = next(p for p in protocol if p.name == route.body)
        params.append(_parameter("body", hints[route.body], whole.default))
    elif body is not None:
        params.append(_parameter("body", body))
    carried = {p.name: route.names.get(p.name, p.name) for p in protocol if p not in taken}
    return params, carried


def _below(router: APIRouter, route: Route) -> str:
    """The route's path below the router's prefix."""
    path = f"/api/v1/{route.path}"
    if not path.startswith(router.prefix):
        raise ValueError(f"{path} is not below the router's prefix {router.prefix}")
    return path.removeprefix(router.prefix)


def _response(route: Route, result: Any) -> Any:
    """The response model: the method's result, ``{key: result}``, or ``{}`` for None."""
    if route.answer is not None and not isinstance(route.answer, str):
        raise TypeError(f"a pass-through route answers one value, not {route.answer}")
    return (
        Empty if result is NoneType else envelope(route.answer, result) if route.answer else result
    )


def passthrough(
    router: APIRouter,
    access: Callable[..., Any],
    entry: str,
    handler: str | None = None,
    /,
    *,
    body: type[BaseModel] | None = None,
    owner: Callable[[Guard, Any], object] | None = None,
    doc: str | None = None,
    **bounds: Any,
) -> None:
    """Add to ``router`` the route of ``entry`` (``"monitors.get"``) as function ``handler``
    (default: the method's name; docstring ``doc``), behind the ``access`` dependency.
    ``owner(guard, value)`` checks the object the path's first field addresses. A route
    with a JSON body takes the parameters outside its path from the fields of ``body``
    (wire names), or, where the table names a body parameter, that parameter as the whole
    body. ``bounds``: a parameter's request type where :data:`BOUNDS` does not fit."""
    aggregate, method = entry.split(".")
    route, fn = ROUTES[aggregate][method], getattr(PROTOCOLS[aggregate], method)
    hints = wire.protocol_hints(fn)
    result, key = hints.pop("return"), route.answer
    response_model = _response(route, result)
    params, carried = _request(route, fn, hints, body, bounds)
    owned = path_fields(route.path)[0] if owner is not None else ""

    def endpoint(guard: Guard, body: Any = None, **args: Any) -> Any:
        if owner is not None:
            owner(guard, args[owned])
        if route.body:
            args[route.body] = body
        elif body is not None:
            fields = type(body).model_fields
            args |= {p: getattr(body, f) for p, f in carried.items() if f in fields}
        found = getattr(getattr(guard.st.store, aggregate), method)(**args)
        if result is NoneType:
            return Empty()
        return found if key is None else {key: found}

    endpoint.__name__ = endpoint.__qualname__ = handler or method
    endpoint.__doc__ = doc
    guard = _parameter("guard", Guard, Depends(access))
    setattr(endpoint, "__signature__", inspect.Signature([*params, guard]))  # noqa: B010
    router.add_api_route(
        _below(router, route),
        endpoint,
        methods=[route.verb],
        response_model=response_model,
        name=endpoint.__name__,
    )


class Router(APIRouter):
    """An :class:`~fastapi.APIRouter` that also serves protocol methods straight through:
    ``router.serve(reader, "monitors.get", "get_monitor")`` (see :func:`passthrough`)."""

    def serve(
        self, access: Callable[..., Any], entry: str, handler: str | None = None, /, **options: Any
    ) -> None:
        passthrough(self, access, entry, handler, **options)


__all__ = ["BOUNDS", "Router", "passthrough"]
