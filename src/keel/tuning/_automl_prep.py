"""AutoML's first mile: check the data, detect the task, resolve the metric, build preprocessing.

Everything here runs before the first model is fitted, so bad input fails in a second with a
one-line error that names the column, the value or the setting to change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from keel.exceptions import InvalidArgumentError

if TYPE_CHECKING:
    import pandas as pd

    from keel.tracking import TrackingClient

TASKS = ("binary", "multiclass", "regression")
#: The smallest budget accepted; below it not even preprocessing and one fit fit in.
MIN_BUDGET_S = 1.0

#: Integer targets with at most this many distinct values are treated as classes.
MAX_INT_CLASSES = 20
#: The fewest rows AutoML will work with (2 folds of 5 rows plus a test split).
MIN_ROWS = 20


@dataclass(frozen=True)
class Metric:
    """A scorer on predictions: ``score(y_true, pred)`` where greater is better.

    ``proba`` says whether ``pred`` holds class probabilities (one column per class) or
    labels/values. Losses are negated, so the search always maximises.
    """

    name: str
    tasks: tuple[str, ...]
    proba: bool
    greater_is_better: bool
    fn: Callable[[Any, Any], float]

    def score(self, y_true: Any, pred: Any) -> float:
        value = float(self.fn(y_true, pred))
        return value if self.greater_is_better else -value

    def display(self, score: float) -> float:
        """The metric's own value from a search score (losses back to positive)."""
        return score if self.greater_is_better else -score


def _auc(y: Any, proba: Any) -> float:
    from sklearn.metrics import roc_auc_score

    if proba.shape[1] == 2:
        return float(roc_auc_score(y, proba[:, 1]))
    return float(roc_auc_score(y, proba, multi_class="ovr", labels=list(range(proba.shape[1]))))


def _logloss(y: Any, proba: Any) -> float:
    from sklearn.metrics import log_loss

    return float(log_loss(y, proba, labels=list(range(proba.shape[1]))))


def _accuracy(y: Any, proba: Any) -> float:
    return float(np.mean(np.asarray(y) == np.argmax(proba, axis=1)))


def _f1(y: Any, proba: Any) -> float:
    from sklearn.metrics import f1_score

    average = "binary" if proba.shape[1] == 2 else "macro"
    return float(f1_score(y, np.argmax(proba, axis=1), average=average))


def _rmse(y: Any, pred: Any) -> float:
    return float(np.sqrt(np.mean((np.asarray(y, dtype=float) - pred) ** 2)))


def _mae(y: Any, pred: Any) -> float:
    return float(np.mean(np.abs(np.asarray(y, dtype=float) - pred)))


def _r2(y: Any, pred: Any) -> float:
    from sklearn.metrics import r2_score

    return float(r2_score(y, pred))


_CLS = ("binary", "multiclass")
METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("roc_auc", _CLS, True, True, _auc),
        Metric("accuracy", _CLS, True, True, _accuracy),
        Metric("f1", _CLS, True, True, _f1),
        Metric("log_loss", _CLS, True, False, _logloss),
        Metric("r2", ("regression",), False, True, _r2),
        Metric("rmse", ("regression",), False, False, _rmse),
        Metric("mae", ("regression",), False, False, _mae),
    )
}
DEFAULT_METRIC = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "r2"}


def resolve_metric(name: str | None, task: str) -> Metric:
    """The metric called ``name`` (or the task's default), checked against the task."""
    if name is None:
        return METRICS[DEFAULT_METRIC[task]]
    metric = METRICS.get(name.lower())
    if metric is None:
        raise InvalidArgumentError(f"unknown metric {name!r}; choose one of {', '.join(METRICS)}")
    if task not in metric.tasks:
        fits = [m for m, spec in METRICS.items() if task in spec.tasks]
        raise InvalidArgumentError(
            f"metric {name!r} does not apply to a {task} target; use one of {', '.join(fits)}"
        )
    return metric


def detect_task(y: pd.Series, task: str | None = None) -> str:
    """``binary``, ``multiclass`` or ``regression`` from the target's type and distinct values."""
    import pandas as pd

    distinct = y.nunique(dropna=True)
    if distinct < 2:
        only = y.dropna().iloc[0] if distinct else "nothing"
        raise InvalidArgumentError(
            f"target {y.name!r} has one value ({only!r}) in every row; there is nothing to learn"
        )
    if task is not None:
        if task not in TASKS:
            raise InvalidArgumentError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
        if task == "regression" and not pd.api.types.is_numeric_dtype(y):
            raise InvalidArgumentError(f"target {y.name!r} is not numeric; it cannot be regressed")
        if task == "binary" and distinct != 2:
            raise InvalidArgumentError(
                f"task 'binary' needs 2 classes; target {y.name!r} has {distinct}"
            )
        return task
    numeric = pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)
    if numeric:
        values = y.dropna().to_numpy()
        integral = bool(np.all(np.equal(np.mod(values, 1), 0)))
        if not (integral and distinct <= MAX_INT_CLASSES):
            return "regression"
    return "binary" if distinct == 2 else "multiclass"


def split_xy(frame: pd.DataFrame, target: str) -> tuple[pd.DataFrame, pd.Series]:
    """Features and target; rows without a target are dropped (they cannot be scored)."""
    if target not in frame.columns:
        raise InvalidArgumentError(
            f"no column {target!r} in the data; columns are "
            + ", ".join(map(str, frame.columns[:20]))
        )
    frame = frame[frame[target].notna()]
    X = frame.drop(columns=[target])
    X.columns = [str(c) for c in X.columns]
    if X.shape[1] == 0:
        raise InvalidArgumentError(f"the data has no feature columns besides {target!r}")
    if len(frame) < MIN_ROWS:
        raise InvalidArgumentError(
            f"{len(frame)} rows with a target is too few for cross-validation and a test split; "
            f"AutoML needs at least {MIN_ROWS}"
        )
    return X.reset_index(drop=True), frame[target].reset_index(drop=True)


@dataclass(frozen=True)
class ColumnPlan:
    """How each input column is treated; ``dropped`` maps a column to the reason."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    dates: tuple[str, ...]
    dropped: dict[str, str]


def plan_columns(X: pd.DataFrame) -> ColumnPlan:
    """Sort columns into numeric, categorical and date; drop all-missing and constant ones."""
    import pandas as pd

    numeric: list[str] = []
    categorical: list[str] = []
    dates: list[str] = []
    dropped: dict[str, str] = {}
    for col in X.columns:
        s = X[col]
        if s.isna().all():
            dropped[col] = "all values missing"
        elif s.nunique(dropna=False) < 2:
            dropped[col] = "constant"
        elif pd.api.types.is_datetime64_any_dtype(s):
            dates.append(col)
        elif pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
            categorical.append(col)
        else:
            numeric.append(col)
    if not (numeric or categorical or dates):
        raise InvalidArgumentError(
            "every feature column is empty or constant ("
            + ", ".join(f"{c}: {r}" for c, r in list(dropped.items())[:5])
            + "); there is nothing to learn from"
        )
    return ColumnPlan(tuple(numeric), tuple(categorical), tuple(dates), dropped)


class DateParts:
    """Turn datetime columns into year, month, day, weekday and hour numbers.

    A plain class with plain state, so skops stores it and keel's loader trusts it
    (it is on the allowlist by name).
    """

    PARTS = ("year", "month", "day", "weekday", "hour")

    def fit(self, X: Any, y: Any = None) -> DateParts:
        import pandas as pd

        self.columns_ = [str(c) for c in pd.DataFrame(X).columns]
        return self

    def transform(self, X: Any) -> Any:
        import pandas as pd

        frame = pd.DataFrame(X)
        out = []
        for col in frame.columns:
            s = pd.to_datetime(frame[col], errors="coerce")
            out.extend([s.dt.year, s.dt.month, s.dt.day, s.dt.day_of_week, s.dt.hour])
        return np.column_stack([o.to_numpy(dtype=float, na_value=np.nan) for o in out])

    def fit_transform(self, X: Any, y: Any = None) -> Any:
        return self.fit(X, y).transform(X)

    def get_feature_names_out(self, input_features: Any = None) -> Any:
        return np.array([f"{c}_{p}" for c in self.columns_ for p in self.PARTS], dtype=object)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {}

    def set_params(self, **params: Any) -> DateParts:
        return self


def build_preprocessor(plan: ColumnPlan, *, scale: bool = True) -> Any:
    """One ColumnTransformer for every family: impute + scale numbers, one-hot categories.

    ``scale=False`` keeps numbers in their own units (for rules a person reads).
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    parts: list[tuple[str, Any, list[str]]] = []
    if plan.numeric:
        steps: list[tuple[str, Any]] = [("impute", SimpleImputer(strategy="median"))]
        if scale:
            steps.append(("scale", StandardScaler()))
        numeric = Pipeline(steps)
        parts.append(("numeric", numeric, list(plan.numeric)))
    if plan.categorical:
        categorical = Pipeline(
            [
                ("impute", SimpleImputer(strategy="most_frequent")),
                (
                    "onehot",
                    OneHotEncoder(
                        handle_unknown="infrequent_if_exist",
                        max_categories=20,
                        sparse_output=False,
                    ),
                ),
            ]
        )
        parts.append(("categorical", categorical, list(plan.categorical)))
    if plan.dates:
        dates = Pipeline(
            [
                ("parts", DateParts()),
                ("impute", SimpleImputer(strategy="median")),
                ("scale", StandardScaler()),
            ]
        )
        parts.append(("dates", dates, list(plan.dates)))
    return ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=False)


def prepare_frame(X: pd.DataFrame, plan: ColumnPlan) -> pd.DataFrame:
    """Categorical columns as plain strings (mixed types break the encoder); others as is."""
    X = X.copy()
    for col in plan.categorical:
        s = X[col]
        X[col] = s.astype(object).where(s.notna(), None).map(lambda v: v if v is None else str(v))
    return X


def load_data(data: Any, client: TrackingClient) -> tuple[pd.DataFrame, str, int | None]:
    """A frame, its display name and its dataset version id (``None`` for a DataFrame)."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data, f"DataFrame[{len(data)}x{data.shape[1]}]", None
    if isinstance(data, str):
        from keel.data import DatasetClient

        # a read of a version in the project: a misspelt project is an error, not a new one
        datasets = DatasetClient(client.store, client.existing_project())
        version = datasets.get(data)
        return datasets.load(data), version.ref, version.id
    raise InvalidArgumentError(
        f"data must be a dataset reference like 'customers@3' or a DataFrame, "
        f"not {type(data).__name__}"
    )


def choose_folds(y: np.ndarray, task: str, wanted: int) -> int:
    limit = len(y) // 5 if task == "regression" else int(np.bincount(y).min())
    folds = min(wanted, limit)
    if folds < 2:
        raise InvalidArgumentError(
            f"too few rows for cross-validation: the rarest class has {limit} row(s) in the "
            "training split; every class needs at least 2 (add rows or merge rare classes)"
        )
    return folds


def split_train_test(
    X: pd.DataFrame, y_raw: pd.Series, task: str, test_size: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray, np.ndarray | None]:
    """Train/test split; class labels encoded as 0..k-1 (``labels`` maps them back)."""
    from sklearn.model_selection import train_test_split

    if not 0.05 <= test_size <= 0.5:
        raise InvalidArgumentError(f"test_size {test_size} must be between 0.05 and 0.5")
    labels: np.ndarray | None = None
    if task == "regression":
        y = y_raw.to_numpy(dtype=np.float64)
        strat = None
    else:
        labels, y = np.unique(y_raw.to_numpy(), return_inverse=True)
        counts = np.bincount(y)
        if counts.min() < 2:
            rare = labels[int(np.argmin(counts))]
            raise InvalidArgumentError(
                f"class {rare!r} of the target has {counts.min()} row; every class needs at "
                "least 2 for a test split and cross-validation"
            )
        strat = y
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=test_size, random_state=seed, stratify=strat
    )
    return X_tr.reset_index(drop=True), X_te.reset_index(drop=True), y_tr, y_te, labels


def parse_budget(budget: str | float | int) -> float:
    """Seconds from ``90``, ``"90s"``, ``"10m"`` or ``"1h"`` (keel's one duration grammar)."""
    from keel.store.eventlog import parse_duration

    if isinstance(budget, (int, float)):
        seconds = float(budget)
    else:
        text = str(budget).strip()
        try:
            seconds = float(text)
        except ValueError:
            try:
                seconds = parse_duration(text) / 1000
            except InvalidArgumentError:
                raise InvalidArgumentError(
                    f"budget {budget!r} is not a duration; write it like 30s, 10m or 1h"
                ) from None
    if seconds < MIN_BUDGET_S:
        raise InvalidArgumentError(
            f"budget {seconds:g}s is shorter than one model fit; give at least {MIN_BUDGET_S:g}s"
        )
    return seconds


__all__ = [
    "DEFAULT_METRIC",
    "METRICS",
    "TASKS",
    "ColumnPlan",
    "DateParts",
    "Metric",
    "build_preprocessor",
    "choose_folds",
    "detect_task",
    "load_data",
    "parse_budget",
    "plan_columns",
    "prepare_frame",
    "resolve_metric",
    "split_train_test",
    "split_xy",
]
