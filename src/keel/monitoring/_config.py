"""How sensitive drift and schema checks are: tests, thresholds and the false-alarm rate."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from keel.exceptions import InvalidArgumentError

NUMERIC_TESTS = ("ks", "wasserstein", "psi")
CATEGORICAL_TESTS = ("chi2", "jensenshannon", "psi")
PVALUE_TESTS = ("ks", "chi2")
CORRECTIONS = ("bh", "bonferroni", "none")

#: Distance tests flag a column when the distance reaches this value.
DEFAULT_THRESHOLDS: dict[str, float] = {"wasserstein": 0.1, "psi": 0.2, "jensenshannon": 0.1}
#: P-value tests also need an effect this large (KS D; Jensen-Shannon distance for chi2), so
#: a million rows do not turn a shift nobody cares about into an alert.
DEFAULT_MIN_EFFECT: dict[str, float] = {"ks": 0.05, "chi2": 0.05}


def check_known(cls: Any, data: Mapping[str, Any], what: str) -> None:
    """Refuse keys of ``data`` that are no field of the settings dataclass ``cls``, naming
    the known ones (a typo in a monitor setting is said, never silently ignored)."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InvalidArgumentError(f"unknown {what} {unknown}; known: {sorted(known)}")


@dataclass(frozen=True)
class DriftConfig:
    """Settings of the drift and schema checks.

    ``alpha`` is the false-alarm rate for the p-value tests (KS, chi-square) after the
    ``correction`` for testing many columns at once (Benjamini-Hochberg by default, which
    also bounds the chance of any false alarm at ``alpha`` when nothing drifted).
    """

    numeric_test: str = "ks"
    categorical_test: str = "chi2"
    alpha: float = 0.05
    correction: str = "bh"
    thresholds: Mapping[str, float] = field(default_factory=dict)
    min_effect: Mapping[str, float] = field(default_factory=dict)
    column_tests: Mapping[str, str] = field(default_factory=dict)
    min_count: int = 30
    drift_share: float = 0.5
    null_rate_increase: float = 0.05
    out_of_range_share: float = 0.01
    ignore_columns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_choice("numeric_test", self.numeric_test, NUMERIC_TESTS)
        _check_choice("categorical_test", self.categorical_test, CATEGORICAL_TESTS)
        _check_choice("correction", self.correction, CORRECTIONS)
        for column, test in self.column_tests.items():
            _check_choice(f"column_tests[{column!r}]", test, NUMERIC_TESTS + CATEGORICAL_TESTS)
        for name, value in [("alpha", self.alpha), ("drift_share", self.drift_share)]:
            if not 0.0 < value <= 1.0:
                raise InvalidArgumentError(f"{name}={value} must be in (0, 1]")
        if self.min_count < 2:
            raise InvalidArgumentError(f"min_count={self.min_count} must be at least 2")
        for key in [*self.thresholds, *self.min_effect]:
            _check_choice("threshold test", key, NUMERIC_TESTS + CATEGORICAL_TESTS)

    def threshold(self, test: str) -> float:
        return float(self.thresholds.get(test, DEFAULT_THRESHOLDS.get(test, 0.0)))

    def effect_floor(self, test: str) -> float:
        return float(self.min_effect.get(test, DEFAULT_MIN_EFFECT.get(test, 0.0)))

    def test_for(self, column: str, kind: str) -> str:
        test = self.column_tests.get(column)
        if test is not None:
            allowed = NUMERIC_TESTS if kind == "numeric" else CATEGORICAL_TESTS
            if test not in allowed:
                raise InvalidArgumentError(
                    f"column {column!r} is {kind}; test {test!r} does not apply. "
                    f"Use one of {', '.join(allowed)}"
                )
            return test
        return self.numeric_test if kind == "numeric" else self.categorical_test

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["thresholds"] = dict(self.thresholds)
        out["min_effect"] = dict(self.min_effect)
        out["column_tests"] = dict(self.column_tests)
        out["ignore_columns"] = list(self.ignore_columns)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftConfig:
        check_known(cls, data, "drift setting(s)")
        values = dict(data)
        if "ignore_columns" in values:
            values["ignore_columns"] = tuple(values["ignore_columns"])
        return cls(**values)


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InvalidArgumentError(
            f"{name}={value!r} is not known; use one of {', '.join(allowed)}"
        )
