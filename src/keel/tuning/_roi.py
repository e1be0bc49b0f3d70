"""``keel.roi``: is machine learning worth it here? Baselines, AutoML and money, with error bars.

Every option — predict the majority class, the best single-feature rule, a linear model, a
quick AutoML run — is fitted on the same training split and scored on the same held-out
rows. Each correct prediction earns ``value_per_correct`` and each error costs
``cost_per_error``; the expected value per month and its 95% bootstrap interval follow from
the held-out hits. A learning curve (the AutoML model refitted on growing shares of the
training rows) says whether more data would still pay.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from keel.exceptions import InvalidArgumentError
from keel.tuning._automl import automl
from keel.tuning._automl_prep import (
    build_preprocessor,
    detect_task,
    load_data,
    plan_columns,
    split_train_test,
    split_xy,
)

if TYPE_CHECKING:
    import pandas as pd

    from keel.tracking import TrackingClient

BOOTSTRAP = 2000
LEARNING_SHARES = (0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class Option:
    """One way to make the prediction, with its held-out accuracy and monthly value."""

    name: str
    kind: str  # "baseline" | "rule" | "ml"
    description: str
    accuracy: float
    value_per_month: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class CurvePoint:
    share: float
    rows: int
    accuracy: float
    value_per_month: float


@dataclass(frozen=True)
class ROIReport:
    """The options, the learning curve and the recommendation with its reasons."""

    data: str
    target: str
    task: str
    test_rows: int
    value_per_correct: float
    cost_per_error: float
    predictions_per_month: float
    options: list[Option]
    curve: list[CurvePoint]
    recommendation: str  # "ml" | "rule" | "collect more data" | "none"
    reasons: list[str]
    automl_run_id: str
    gain_ci: tuple[float, float] = field(default=(0.0, 0.0))

    def to_dict(self) -> dict[str, Any]:
        import dataclasses

        return dataclasses.asdict(self)

    def to_markdown(self) -> str:
        from keel.tuning._roi_report import markdown

        return markdown(self)

    def to_html(self) -> str:
        from keel.tuning._roi_report import html

        return html(self)

    def write(self, path: str | Path) -> Path:
        """Write the report to ``path``: Markdown for ``.md``, one HTML page for ``.html``."""
        from keel.tuning._roi_report import report_format

        out = Path(path)
        text = self.to_markdown() if report_format(out) == "md" else self.to_html()
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        return out


def roi(
    data: Any,
    target: str,
    *,
    value_per_correct: float,
    cost_per_error: float,
    predictions_per_month: float,
    budget: str | float = "30s",
    seed: int = 0,
    families: list[str] | tuple[str, ...] | None = None,
    client: TrackingClient | None = None,
) -> ROIReport:
    """Compare a majority baseline, the best one-feature rule, a linear model and AutoML in money.

    ``data`` is a dataset reference or a DataFrame with a classification ``target``. The
    AutoML run (``budget``, tracked as runs like ``keel.automl``, not registered) and the
    baselines share one split; the recommendation is ``ml`` when its gain over the best rule is
    positive across the bootstrap interval, ``collect more data`` when it is not yet but the
    learning curve is still rising, ``rule`` otherwise, and ``none`` when nothing pays.
    """
    from contextlib import nullcontext

    from keel.tracking import using_client

    _check_money(value_per_correct, cost_per_error, predictions_per_month)
    with using_client(client) if client is not None else nullcontext():
        X, y_raw, task, data_name, result = _search(data, target, budget, seed, families)
    X_tr, X_te, y_tr, y_te, labels = split_train_test(X, y_raw, task, 0.2, seed)
    assert labels is not None
    money = _Money(value_per_correct, cost_per_error, predictions_per_month, seed)
    hits = _hits(X_tr, X_te, y_tr, y_te, labels, result.model, seed)
    options = [money.option(name, kind, text, h) for name, kind, text, h in hits]
    curve = _curve(result.model, X_tr, X_te, y_tr, y_te, labels, money, seed)
    gain = money.gain_ci(hits)
    recommendation, reasons = _recommend(options, curve, gain, money)
    return ROIReport(
        data=data_name, target=target, task=task, test_rows=len(y_te),
        value_per_correct=value_per_correct, cost_per_error=cost_per_error,
        predictions_per_month=predictions_per_month, options=options, curve=curve,
        recommendation=recommendation, reasons=reasons, automl_run_id=result.parent_run_id,
        gain_ci=gain,
    )  # fmt: skip


def _check_money(value_per_correct: float, cost_per_error: float, per_month: float) -> None:
    for name, value in (("value_per_correct", value_per_correct),
                        ("cost_per_error", cost_per_error),
                        ("predictions_per_month", per_month)):  # fmt: skip
        if value < 0 or not np.isfinite(value):
            raise InvalidArgumentError(f"{name} must be a non-negative number, not {value}")


def _search(
    data: Any, target: str, budget: str | float, seed: int, families: Any
) -> tuple[pd.DataFrame, pd.Series, str, str, Any]:
    """The checked classification input and a quick AutoML run on it (not registered)."""
    from keel.tracking import get_client

    frame, data_name, _vid = load_data(data, get_client())
    X, y_raw = split_xy(frame, target)
    task = detect_task(y_raw)
    if task == "regression":
        raise InvalidArgumentError(
            f"keel roi values correct and wrong predictions; target {target!r} is numeric "
            "with many values (a regression); bin it into classes first"
        )
    result = automl(
        frame, target, budget=budget, seed=seed, families=families, register=False,
        experiment="roi", metric="accuracy", folds=3,
    )  # fmt: skip
    return X, y_raw, task, data_name, result


class _Money:
    """Hits to money: value per prediction times predictions per month, with bootstrap bounds."""

    def __init__(self, value: float, cost: float, per_month: float, seed: int) -> None:
        self.value, self.cost, self.per_month = value, cost, per_month
        self.rng = np.random.default_rng(seed)
        self._index: np.ndarray | None = None

    def monthly(self, accuracy: Any) -> Any:
        return (accuracy * self.value - (1 - accuracy) * self.cost) * self.per_month

    def resamples(self, n: int) -> np.ndarray:
        if self._index is None or self._index.shape[1] != n:
            self._index = self.rng.integers(0, n, size=(BOOTSTRAP, n))
        return self._index

    def option(self, name: str, kind: str, text: str, hit: np.ndarray) -> Option:
        boot = self.monthly(hit[self.resamples(len(hit))].mean(axis=1))
        low, high = np.percentile(boot, [2.5, 97.5])
        acc = float(hit.mean())
        return Option(name, kind, text, acc, float(self.monthly(acc)), float(low), float(high))

    def gain_ci(self, hits: list[tuple[str, str, str, np.ndarray]]) -> tuple[float, float]:
        """95% interval of (best ML option - best non-ML option) per month, paired resamples."""
        ml = max((h for h in hits if h[1] == "ml"), key=lambda h: h[3].mean())[3]
        rule = max((h for h in hits if h[1] != "ml"), key=lambda h: h[3].mean())[3]
        idx = self.resamples(len(ml))
        diff = self.monthly(ml[idx].mean(axis=1)) - self.monthly(rule[idx].mean(axis=1))
        low, high = np.percentile(diff, [2.5, 97.5])
        return float(low), float(high)


def _hits(
    X_tr: pd.DataFrame,
    X_te: pd.DataFrame,
    y_tr: np.ndarray,
    y_te: np.ndarray,
    labels: np.ndarray,
    automl_model: Any,
    seed: int,
) -> list[tuple[str, str, str, np.ndarray]]:
    """(name, kind, description, correct-or-not per held-out row) for every option."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.tree import DecisionTreeClassifier

    majority = int(np.bincount(y_tr).argmax())
    out = [
        (
            "majority",
            "baseline",
            f"always predict {_label(labels[majority])!r}",
            (y_te == majority).astype(float),
        )
    ]
    prep = build_preprocessor(plan_columns(X_tr), scale=False)
    stump = Pipeline([("prep", prep), ("rule", DecisionTreeClassifier(max_depth=1))])
    stump.fit(X_tr, y_tr)
    out.append(("best rule", "rule", _describe_stump(stump, labels), _hit(stump, X_te, y_te)))
    linear = Pipeline(
        [("prep", build_preprocessor(plan_columns(X_tr))), ("model", LogisticRegression())]
    )
    linear.fit(X_tr, y_tr)
    out.append(("linear model", "ml", "logistic regression", _hit(linear, X_te, y_te)))
    predicted = np.searchsorted(labels, np.asarray(automl_model.predict(X_te)))
    steps = automl_model.named_steps["model"].named_estimators
    text = "weighted ensemble of " + ", ".join(sorted(steps)) if steps else "AutoML"
    out.append(("automl", "ml", text, (predicted == y_te).astype(float)))
    return out


def _label(value: Any) -> Any:
    """A class label as plain Python (``1``, not ``np.int64(1)``) for the report."""
    return value.item() if isinstance(value, np.generic) else value


def _hit(model: Any, X: pd.DataFrame, y: np.ndarray) -> np.ndarray:
    return (np.asarray(model.predict(X)) == y).astype(float)


def _describe_stump(stump: Any, labels: np.ndarray) -> str:
    tree = stump.named_steps["rule"].tree_
    if tree.node_count < 3:
        return "no single split helps: predict the majority"
    names = stump.named_steps["prep"].get_feature_names_out()
    feature = str(names[tree.feature[0]])
    left = _label(labels[int(np.argmax(tree.value[1][0]))])
    right = _label(labels[int(np.argmax(tree.value[2][0]))])
    return f"if {feature} <= {tree.threshold[0]:.3g} then {left!r} else {right!r}"


def _curve(
    model: Any,
    X_tr: pd.DataFrame,
    X_te: pd.DataFrame,
    y_tr: np.ndarray,
    y_te: np.ndarray,
    labels: np.ndarray,
    money: _Money,
    seed: int,
) -> list[CurvePoint]:
    """The AutoML pipeline refitted on growing shares of the training rows."""
    from sklearn.base import clone

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y_tr))
    points = []
    for share in LEARNING_SHARES:
        take = order[: max(int(share * len(order)), 10)]
        if len(np.unique(y_tr[take])) < len(labels):
            continue  # too few rows to see every class yet
        fitted = clone(model).fit(X_tr.iloc[take], labels[y_tr[take]])
        predicted = np.searchsorted(labels, np.asarray(fitted.predict(X_te)))
        acc = float((predicted == y_te).mean())
        points.append(CurvePoint(share, len(take), acc, float(money.monthly(acc))))
    return points


def _recommend(
    options: list[Option], curve: list[CurvePoint], gain: tuple[float, float], money: _Money
) -> tuple[str, list[str]]:
    best = max(options, key=lambda o: o.value_per_month)
    ml = max((o for o in options if o.kind == "ml"), key=lambda o: o.value_per_month)
    rule = max((o for o in options if o.kind != "ml"), key=lambda o: o.value_per_month)
    rising = len(curve) >= 2 and curve[-1].value_per_month - curve[-2].value_per_month > max(
        0.0, 0.1 * (gain[1] - gain[0])
    )
    reasons = [
        f"{ml.name} earns {ml.value_per_month:,.0f}/month (95% CI {ml.ci_low:,.0f} to "
        f"{ml.ci_high:,.0f}); {rule.name} ({rule.description}) earns "
        f"{rule.value_per_month:,.0f}/month (95% CI {rule.ci_low:,.0f} to {rule.ci_high:,.0f}).",
        f"ML's gain over the rule is {gain[0]:,.0f} to {gain[1]:,.0f} per month (95% CI, "
        "paired bootstrap over the held-out rows).",
    ]
    if len(curve) >= 2:
        first, last = curve[0], curve[-1]
        reasons.append(
            f"Learning curve: accuracy {first.accuracy:.3f} with {first.rows} training rows, "
            f"{last.accuracy:.3f} with {last.rows}; "
            + ("still rising, so more data should pay." if rising else "it has flattened.")
        )
    if best.ci_high < 0:
        reasons.append("Every option loses money at these values; do not automate this yet.")
        return "none", reasons
    if gain[0] > 0 and ml.value_per_month > 0:
        reasons.append("ML beats the best rule across the whole interval: build the model.")
        return "ml", reasons
    if rising:
        reasons.append(
            "ML does not yet beat the rule for sure, but the learning curve is still rising: "
            "collect more labelled data and re-run."
        )
        return "collect more data", reasons
    if rule.value_per_month > 0:
        reasons.append(
            "ML's gain is not clearly above zero and more data is unlikely to change that: "
            f"ship the rule ({rule.description})."
        )
        return "rule", reasons
    reasons.append(
        "The rule loses money and ML's advantage is not certain on this many held-out rows: "
        "the intervals are too wide to decide. Collect more labelled "
        "data (a larger test set narrows them) and re-run."
    )
    return "collect more data", reasons


__all__ = ["CurvePoint", "Option", "ROIReport", "roi"]
