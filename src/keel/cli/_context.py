"""What every command needs: settings read once, and the store they point at."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keel.config import Settings
    from keel.store import Store
    from keel.tracking import TrackingClient


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
