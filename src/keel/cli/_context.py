"""What every command needs: settings read once, and the store they point at."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keel.config import Settings
    from keel.store import Store
    from keel.tracking import TrackingClient


def use_project(name: str) -> None:
    """The root ``--project/-P`` option: the project for this command and what it starts.

    Resolved once, here at the edge; it is exported as ``KEEL_PROJECT`` so servers, workers
    and pipelines this command starts work in the same project.
    """
    import os

    from keel.exceptions import InvalidArgumentError

    if not name.strip():
        raise InvalidArgumentError("--project is empty; give a project name")
    os.environ["KEEL_PROJECT"] = name
    settings.cache_clear()
    store.cache_clear()
    client.cache_clear()


@cache
def settings() -> Settings:
    from keel.config import Settings

    return Settings.from_env()


@cache
def store() -> Store:
    from keel.store import open_store

    return open_store(settings())


@cache
def client() -> TrackingClient:
    from keel.tracking import TrackingClient

    return TrackingClient(store(), project=settings().project)
