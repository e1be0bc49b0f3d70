"""What every step of the tour shares: the store, the client, output, and results so far."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from keel.config import Settings
from keel.tracking import TrackingClient


@dataclass
class TourContext:
    settings: Settings
    client: TrackingClient
    say: Callable[[str], None]  # prints one line of Rich markup
    table: Callable[[str, list[str], list[list[Any]]], None]
    results: dict[str, Any] = field(default_factory=dict)  # what earlier steps produced
    fast: bool = False  # smaller models, for tests


@dataclass(frozen=True)
class Step:
    title: str
    run: Callable[[TourContext], None]
