"""The route table the HTTP repositories are generated from speaks the server's language:
every entry names a route the FastAPI app really has (verb and path), every method it
routes is a method of the aggregate's protocol, and every return type resolves."""

from __future__ import annotations

import dataclasses
import inspect
import re

import pytest
from server_helpers import OPTIONS  # type: ignore[import-not-found]

from keel.config import Settings
from keel.server import create_app
from keel.store import open_store
from keel.store.protocols import PROTOCOLS
from keel.store.remote._generate import returns
from keel.store.wire import protocol_hints
from keel.store.wire_routes import ROUTES, path_fields

ENTRIES = [(agg, method) for agg, table in sorted(ROUTES.items()) for method in sorted(table)]


def _shape(path: str) -> str:
    """A path with every ``{field}`` (``{run_id}``, ``{dataset.id}``, ``{path:path}``) as ``{}``."""
    return re.sub(r"\{[^}]*\}", "{}", path)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str, str]]:
    """(verb, path shape) of every operation the app's OpenAPI document describes."""
    store = open_store(Settings.for_home(tmp_path_factory.mktemp("routes")))
    try:
        paths = create_app(store.settings, OPTIONS, store=store).openapi()["paths"]
    finally:
        store.close()
    return {(verb.upper(), _shape(path)) for path, ops in paths.items() for verb in ops}


def test_every_aggregate_of_the_table_has_a_protocol() -> None:
    assert set(ROUTES) <= set(PROTOCOLS)


@pytest.mark.parametrize(("aggregate", "method"), ENTRIES)
def test_route_entry_names_a_server_route(
    served: set[tuple[str, str]], aggregate: str, method: str
) -> None:
    entry = ROUTES[aggregate][method]
    assert (entry.verb, _shape(f"/api/v1/{entry.path}")) in served, f"{aggregate}.{method}"


@pytest.mark.parametrize(("aggregate", "method"), ENTRIES)
def test_route_entry_fits_its_protocol_method(aggregate: str, method: str) -> None:
    protocol, entry = PROTOCOLS[aggregate], ROUTES[aggregate][method]
    params = set(inspect.signature(getattr(protocol, method)).parameters) - {"self"}
    if entry.spread:  # the entity's fields go on the wire beside the parameters
        entity = protocol_hints(getattr(protocol, method), entry.spread)[entry.spread]
        params |= {f.name for f in dataclasses.fields(entity)}
    named = set(path_fields(entry.path)) | set(entry.names) | set(entry.strs) | set(entry.pairs)
    named |= {where.split(".")[0] for where in entry.finite}
    named |= {entry.body, entry.spread} - {None}
    assert named <= params, f"{aggregate}.{method} names {named - params}, not parameters"
    returns(protocol, method)  # resolves (raises NameError otherwise)
