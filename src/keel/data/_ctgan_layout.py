"""CTGAN's encoded-row layout: one :class:`Span` per learnt column (see :mod:`._ctgan`).

Shared by the model (which stores the spans) and the torch networks (which size their layers
from them), with no torch import.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_MODES = 10
PAC = 10
EMBEDDING = 128
HIDDEN = 256
MIN_MODE_WEIGHT = 0.005
GMM_ROWS = 5_000


@dataclass(frozen=True)
class Span:
    """One column's slice of the encoded row: ``alpha`` (a mode offset) and/or ``slots``."""

    column: int
    alpha: bool
    slots: int
    means: list[float] = field(default_factory=list)
    stds: list[float] = field(default_factory=list)
    null_slot: bool = False
    rare_slot: bool = False

    @property
    def width(self) -> int:
        return int(self.alpha) + self.slots
