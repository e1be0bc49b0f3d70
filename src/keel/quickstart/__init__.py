"""``keel quickstart``: the end-to-end tour on the embedded store."""

from __future__ import annotations

from keel.quickstart._context import Step, TourContext
from keel.quickstart._tour import NEXT_STEPS, STEPS, run_tour

__all__ = ["NEXT_STEPS", "STEPS", "Step", "TourContext", "run_tour"]
