"""Pass-through routes built from the route table (``keel.server.api._passthrough``): what
they refuse to build, and that their parameters keep the server's bounds."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter

from keel.server._auth import reader
from keel.server.api._passthrough import Router, passthrough


def test_a_route_answering_several_values_is_written_by_hand() -> None:
    with pytest.raises(TypeError, match="answers one value"):
        passthrough(Router(prefix="/api/v1"), reader, "deployments.apply")


def test_the_path_must_lie_below_the_routers_prefix() -> None:
    with pytest.raises(ValueError, match="not below the router's prefix"):
        passthrough(APIRouter(prefix="/api/v1/runs"), reader, "monitors.get")


def test_the_handler_is_named_for_its_operation() -> None:
    router = Router(prefix="/api/v1")
    router.serve(reader, "monitors.get", "get_monitor")
    router.serve(reader, "monitors.find")
    assert [r.name for r in router.routes] == ["get_monitor", "find"]  # type: ignore[attr-defined]


def test_a_generated_route_bounds_its_parameters(client: Any) -> None:
    """``project_id`` is an ``Id``: an id PostgreSQL cannot hold is refused (400), not a 500."""
    assert client.get("/api/v1/projects/3000000000/monitors").status_code == 400
    assert client.get("/api/v1/monitors/3000000000").status_code == 400
    assert client.get("/api/v1/projects/1/monitors").status_code == 200
