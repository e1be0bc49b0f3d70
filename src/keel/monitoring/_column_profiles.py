"""Column profiles: one frozen dataclass per kind of column (numbers, categories, other).

The lowest layer of profiling: :mod:`keel.monitoring._profile` builds and merges them,
:mod:`~keel.monitoring._rebin` re-bins histograms and :mod:`~keel.monitoring._serialize`
reads and writes them, all without importing one another in a circle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

DEFAULT_BINS = 100
DEFAULT_MAX_CATEGORIES = 200
FORMAT_VERSION = 1


@dataclass(frozen=True, eq=False, slots=True)
class NumericProfile:
    """Moments and a histogram. Bin 0 holds values <= ``edges[0]`` (below the reference
    minimum), bin i values in ``(edges[i-1], edges[i]]``, the last bin values above
    ``edges[-1]``; ``tail_sums`` are the sums of the values in the first and last bins."""

    name: str
    dtype: str
    count: int
    nulls: int
    min: float | None
    max: float | None
    mean: float | None
    m2: float
    edges: np.ndarray
    counts: np.ndarray
    tail_sums: tuple[float, float] = (0.0, 0.0)
    kind: str = field(default="numeric", init=False)

    @property
    def std(self) -> float | None:
        return math.sqrt(self.m2 / (self.count - 1)) if self.count > 1 else None

    @property
    def null_rate(self) -> float:
        total = self.count + self.nulls
        return self.nulls / total if total else 0.0


@dataclass(frozen=True, eq=False, slots=True)
class CategoricalProfile:
    """Counts of the most frequent values; ``other`` counts the values folded beyond them."""

    name: str
    dtype: str
    count: int
    nulls: int
    categories: dict[str, int]
    other: int = 0
    kind: str = field(default="categorical", init=False)

    @property
    def null_rate(self) -> float:
        total = self.count + self.nulls
        return self.nulls / total if total else 0.0


@dataclass(frozen=True, eq=False, slots=True)
class OtherProfile:
    """A column monitored for presence, type and missing values only (dates, lists ...)."""

    name: str
    dtype: str
    count: int
    nulls: int
    kind: str = field(default="other", init=False)

    @property
    def null_rate(self) -> float:
        total = self.count + self.nulls
        return self.nulls / total if total else 0.0


ColumnProfile = NumericProfile | CategoricalProfile | OtherProfile
