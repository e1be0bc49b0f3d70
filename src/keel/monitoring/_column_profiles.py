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
class _Column:
    """What every kind of column profile counts: values present and missing."""

    name: str
    dtype: str
    count: int
    nulls: int

    @property
    def null_rate(self) -> float:
        total = self.count + self.nulls
        return self.nulls / total if total else 0.0


@dataclass(frozen=True, eq=False, slots=True)
class NumericProfile(_Column):
    """Moments and a histogram. Bin 0 holds values <= ``edges[0]`` (below the reference
    minimum), bin i values in ``(edges[i-1], edges[i]]``, the last bin values above
    ``edges[-1]``; ``tail_sums`` are the sums of the values in the first and last bins."""

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


@dataclass(frozen=True, eq=False, slots=True)
class CategoricalProfile(_Column):
    """Counts of the most frequent values; ``other`` counts the values folded beyond them."""

    categories: dict[str, int]
    other: int = 0
    kind: str = field(default="categorical", init=False)


@dataclass(frozen=True, eq=False, slots=True)
class OtherProfile(_Column):
    """A column monitored for presence, type and missing values only (dates, lists ...)."""

    kind: str = field(default="other", init=False)


ColumnProfile = NumericProfile | CategoricalProfile | OtherProfile
