"""Everything a monitor checks, stored as JSON in the monitor's row."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from keel.exceptions import InvalidArgumentError
from keel.monitoring._config import DriftConfig, check_known
from keel.monitoring._metrics import CLASSIFICATION_METRICS, REGRESSION_METRICS
from keel.monitoring._resources import ResourceBudget

TASKS = ("classification", "regression")


@dataclass(frozen=True)
class PerformanceSpec:
    """How to score predictions once labels arrive, and when to alert.

    ``prediction`` names the output holding the predicted label or value; ``score`` the
    output holding the probability of ``positive`` (binary) or of the predicted class, used
    to estimate quality before labels arrive. An alert fires when ``metric`` falls below
    ``floor``, or below ``baseline`` by more than ``max_drop`` (relative, 0.1 = 10%).
    """

    task: str = "classification"
    prediction: str = "predictions"
    score: str | None = None
    positive: str | None = "1"
    metric: str = "accuracy"
    floor: float | None = None
    max_drop: float | None = 0.1
    baseline: float | None = None
    min_labels: int = 30
    calibration: dict[str, list[float]] | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise InvalidArgumentError(f"task {self.task!r} must be classification or regression")
        allowed = CLASSIFICATION_METRICS if self.task == "classification" else REGRESSION_METRICS
        if self.metric not in allowed:
            raise InvalidArgumentError(
                f"metric {self.metric!r} does not apply to {self.task}; "
                f"use one of {', '.join(allowed)}"
            )
        if self.min_labels < 1:
            raise InvalidArgumentError(f"min_labels={self.min_labels} must be at least 1")


@dataclass(frozen=True)
class CohortSpec:
    """Cohort column sets (each a tuple of columns) and the gaps that raise alerts."""

    columns: tuple[tuple[str, ...], ...] = ()
    max_gap: float = 0.1
    parity_gap: float | None = 0.2
    odds_gap: float | None = 0.2
    min_size: int = 30


@dataclass(frozen=True)
class LabelSampleSpec:
    """Each run adds ``n`` of the window's served predictions to labeling project
    ``project``, picked by ``strategy`` (``stratified``: by the drifted columns first):
    ``configure(deployment, label_sample={"project": NAME, "strategy": "stratified"})``."""

    project: str = ""
    n: int = 50
    strategy: str = "random"
    confidence_column: str | None = None

    def __post_init__(self) -> None:
        from keel.labeling import STRATEGIES

        if not self.project:
            raise InvalidArgumentError(
                "label sampling needs a labeling project (--label-project NAME)"
            )
        strategy = self.strategy.replace("_", "-")
        if strategy not in STRATEGIES:
            raise InvalidArgumentError(
                f"label sampling strategy {self.strategy!r} is not one of {', '.join(STRATEGIES)}"
            )
        object.__setattr__(self, "strategy", strategy)
        if not 1 <= self.n <= 10_000:
            raise InvalidArgumentError(f"label sample n={self.n} must be between 1 and 10000")


@dataclass(frozen=True)
class MonitorConfig:
    drift: DriftConfig = field(default_factory=DriftConfig)
    performance: PerformanceSpec | None = None
    cohorts: CohortSpec | None = None
    resources: ResourceBudget | None = None
    prediction_drift: bool = True
    label_sample: LabelSampleSpec | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "drift": self.drift.to_dict(),
            "performance": asdict(self.performance) if self.performance else None,
            "cohorts": _cohorts_dict(self.cohorts),
            "resources": self.resources.to_dict() if self.resources else None,
            "prediction_drift": self.prediction_drift,
            "label_sample": asdict(self.label_sample) if self.label_sample else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> MonitorConfig:
        data = dict(data or {})
        check_known(cls, data, "monitor setting(s)")
        cohorts = data.get("cohorts")
        return cls(
            drift=DriftConfig.from_dict(data.get("drift") or {}),
            performance=_build(PerformanceSpec, data.get("performance")),
            cohorts=_build(CohortSpec, {**cohorts, "columns": _column_sets(cohorts.get("columns"))})
            if cohorts
            else None,
            resources=ResourceBudget.from_dict(data["resources"])
            if data.get("resources")
            else None,
            prediction_drift=bool(data.get("prediction_drift", True)),
            label_sample=_build(LabelSampleSpec, data.get("label_sample")),
        )

    def merged(self, **sections: Any) -> MonitorConfig:
        """A copy with whole sections replaced (None values leave a section as it is)."""
        current = self.to_dict()
        current.update({k: v for k, v in sections.items() if v is not None})
        return MonitorConfig.from_dict(current)


def _build(cls: Any, data: Mapping[str, Any] | None) -> Any:
    if not data:
        return None
    check_known(cls, data, f"{cls.__name__} setting(s)")
    return cls(**data)


def _column_sets(value: Any) -> tuple[tuple[str, ...], ...]:
    """``"a,b;c"`` or ``[["a", "b"], "c"]`` -> ``(("a", "b"), ("c",))``."""
    if not value:
        return ()
    if isinstance(value, str):
        value = [part.split(",") for part in value.split(";")]
    out = []
    for item in value:
        cols = (item,) if isinstance(item, str) else tuple(item)
        cols = tuple(c.strip() for c in cols if c and c.strip())
        if cols:
            out.append(cols)
    return tuple(out)


def _cohorts_dict(spec: CohortSpec | None) -> dict[str, Any] | None:
    if spec is None:
        return None
    data = asdict(spec)
    data["columns"] = [list(c) for c in spec.columns]
    return data
