"""HTTP repositories generated from a protocol and its routes in :mod:`keel.store.wire_routes`.

:func:`remote_repository` makes a class whose every routed method binds its arguments by
the protocol method's signature, fills the path, sends one request and decodes the answer
with :func:`keel.store.wire.load` as the method's return annotation says; a route that
records blobs (``Route.blobs``) also quotes this client's upload receipts of them. Methods
that do more (several requests, server-only work) are written by hand in a small class
that the factory completes; hand-written methods win. Nothing is inherited.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import string
from collections.abc import Callable, Mapping
from typing import Any, NoReturn, TypeVar, cast
from urllib.parse import quote

from keel.exceptions import ConfigError, InvalidArgumentError
from keel.store import wire
from keel.store.remote._http import V1, Http
from keel.store.wire_routes import Route, path_fields

P = TypeVar("P")
_QUERY = ("GET", "DELETE")


class _PathFormatter(string.Formatter):
    """``str.format`` that percent-quotes each field (run ids and names may hold ``/``)."""

    def format_field(self, value: Any, format_spec: str) -> str:
        return quote(str(value), safe="")


_PATH = _PathFormatter()


def finite(value: Any, what: str) -> None:
    """Refuse NaN and infinity before sending: strict JSON cannot carry them."""
    try:
        json.dumps(value, allow_nan=False, default=str)
    except ValueError as exc:
        raise InvalidArgumentError(f"{what} must not hold NaN or infinity: {exc}") from exc


@functools.cache
def returns(protocol: type, name: str) -> Any:
    """The return type of ``protocol.name``, resolved once."""
    return wire.protocol_hints(getattr(protocol, name), "return")["return"]


def _plain(route: Route, name: str, value: Any) -> Any:
    if name in route.pairs:
        names = [n for n, _ in value]
        fields = wire.jsonable([entity for _, entity in value])
        return [{route.pairs[name]: n} | f for n, f in zip(names, fields, strict=True)]
    if name in route.strs:
        return {k: str(v) for k, v in (value or {}).items()}
    if name in route.lists:
        return [value] if isinstance(value, str) else list(value or [])
    return dict(value) if isinstance(value, Mapping) else value


def _answer(route: Route, data: Any, tp: Any) -> Any:
    if tp is type(None):
        return None
    if isinstance(route.answer, str):
        data = data[route.answer]
    elif route.answer:
        data = [data[key] for key in route.answer]
    if route.row:
        data = [[item[key] for key in route.row] for item in data]
    return wire.load(tp, data)


def send(http: Http, route: Route, args: dict[str, Any], tp: Any) -> Any:
    """Send one protocol call (``args`` by parameter name) along ``route``; the answer as ``tp``."""
    for where, what in route.finite.items():
        head, *attrs = where.split(".")
        finite(functools.reduce(lambda v, a: getattr(v, a, None), attrs, args[head]), what)
    path = f"{V1}/{_PATH.format(route.path, **args)}"
    in_path = path_fields(route.path)
    values = dict(args)
    if route.spread:
        entity = values.pop(route.spread)
        values |= {f.name: getattr(entity, f.name) for f in dataclasses.fields(entity)}
    body = {
        route.names.get(k, k): _plain(route, k, v) for k, v in values.items() if k not in in_path
    } | dict(route.fixed)
    if route.blobs:
        receipts = {sha: http.receipt(sha) for sha in route.blobs(args)}
        body["receipts"] = {sha: r for sha, r in receipts.items() if r is not None}
    if route.verb in _QUERY:
        params = {k: v for k, v in body.items() if v is not None}
        data = http.request(route.verb, path, params=params)
    else:
        data = http.send(route.verb, path, args[route.body] if route.body else body)
    return _answer(route, data, tp)


def _sender(protocol: type, name: str, route: Route) -> Callable[..., Any]:
    signature = inspect.signature(getattr(protocol, name))

    def method(self: Any, /, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        values = dict(bound.arguments)
        del values["self"]
        return send(self._http, route, values, returns(protocol, name))

    method.__name__ = method.__qualname__ = name
    method.__signature__ = signature  # type: ignore[attr-defined]
    return method


class ServerOnly:
    """A protocol method the remote backend refuses with ``message`` (a ConfigError):
    work that must run where the server's database is."""

    def __init__(self, message: str) -> None:
        self.message = message

    def method(self, protocol: type, name: str) -> Callable[..., NoReturn]:
        message = self.message

        def refused(self: Any, /, *args: Any, **kwargs: Any) -> NoReturn:
            raise ConfigError(message)

        refused.__name__ = refused.__qualname__ = name
        refused.__signature__ = inspect.signature(getattr(protocol, name))  # type: ignore[attr-defined]
        return refused


def _public(cls: type) -> set[str]:
    return {n for n, f in inspect.getmembers(cls, inspect.isfunction) if not n.startswith("_")}


def _init(self: Any, http: Http) -> None:
    self._http = http


def remote_repository(
    protocol: Callable[..., P], routes: Mapping[str, Route], own: type | None = None
) -> Callable[[Http], P]:
    """The HTTP repository of ``protocol``: ``own``'s hand-written methods (``own`` may
    subclass the protocol so that mypy checks them; it is not a base of the result), the
    rest sent along ``routes``; a class whose instances take the :class:`Http` session."""
    proto = cast(type, protocol)
    hand = {
        n: v.method(proto, n) if isinstance(v, ServerOnly) else v
        for n, v in vars(own or object).items()
        if own and (inspect.isfunction(v) or isinstance(v, ServerOnly))
    }
    namespace: dict[str, Any] = {
        n: _sender(proto, n, r) for n, r in routes.items() if n not in hand
    }
    namespace |= hand | {"__init__": _init, "__doc__": (own or proto).__doc__}
    missing, extra = _public(proto) - set(namespace), set(routes) - _public(proto)
    if missing or extra:
        raise TypeError(f"{proto.__name__}: no route for {missing or ''}; not in it: {extra or ''}")
    return cast(Callable[[Http], P], type(f"Remote{proto.__name__}", (), namespace))


__all__ = ["ServerOnly", "finite", "remote_repository", "returns", "send"]
