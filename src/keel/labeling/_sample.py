"""Production samples: served predictions from the prediction log, picked at random, where
the model was least sure, or stratified by cohort (an equal share for each combination of
the cohort columns' values, numbers cut into quartiles, so a small cohort gets labels too),
as labeling tasks that keep their request ids."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from keel.config import Settings
from keel.exceptions import InvalidArgumentError, NotFoundError
from keel.store.eventlog import EventLog, Window
from keel.store.labeling import NewTask

STRATEGIES = ("random", "lowest-confidence", "stratified")
_CONFIDENCE_NAMES = ("confidence", "probability", "proba", "score")
ROW_TAG = "#row="


@dataclass(frozen=True)
class Sampled:
    tasks: list[NewTask]
    considered: int
    confidence_column: str | None


def plain(value: Any) -> Any:
    """A value JSON can hold: NaN and infinity become None, other types their text."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


def _confidence(table: Any, outputs: list[str], column: str | None) -> tuple[list[float], str]:
    """Per-row confidence: ``column``, a column named like a confidence, or the row max of
    the ``proba*``/``probability*`` outputs."""
    import pyarrow as pa
    import pyarrow.compute as pc

    names = [n for n in table.column_names if n in outputs] or list(table.column_names)
    if column is not None:
        if column not in table.column_names:
            raise InvalidArgumentError(
                f"the prediction log has no column {column!r}; its outputs are {outputs}"
            )
        return [float(v) for v in table.column(column).to_pylist()], column
    for name in _CONFIDENCE_NAMES:
        for cand in (name, f"output.{name}"):
            if cand in table.column_names:
                return [float(v) for v in table.column(cand).to_pylist()], cand
    probas = [
        n
        for n in names
        if n.split(".")[-1].startswith(("proba", "probability"))
        and pa.types.is_floating(table.schema.field(n).type)
    ]
    if not probas:
        raise InvalidArgumentError(
            f"lowest-confidence sampling needs a confidence or probability output; the log's "
            f"outputs are {outputs}; name one with --confidence-column, or use --strategy random"
        )
    best = table.column(probas[0])
    for n in probas[1:]:
        best = pc.max_element_wise(best, table.column(n))
    return [float(v) for v in best.to_pylist()], "max(" + ",".join(probas) + ")"


def _cohort_keys(table: Any, by: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """Each row's cohort: its values of the ``by`` columns, numbers as their quartile."""
    import pyarrow as pa
    import pyarrow.compute as pc

    missing = [c for c in by if c not in table.column_names]
    if missing:
        raise InvalidArgumentError(
            f"the prediction log has no cohort column(s) {missing}; its columns are "
            f"{table.column_names}"
        )
    columns = []
    for name in by:
        col = table.column(name)
        if pa.types.is_floating(col.type) or pa.types.is_integer(col.type):
            cuts = [v for v in pc.quantile(col, q=[0.25, 0.5, 0.75]).to_pylist() if v is not None]
            columns.append(
                [None if v is None else sum(v > c for c in cuts) for v in col.to_pylist()]
            )
        else:
            columns.append(col.to_pylist())
    return list(zip(*columns, strict=True))


def _stratified(
    keys: list[tuple[Any, ...]], keep: list[int], n: int, seed: int | None
) -> list[int]:
    """``n`` rows of ``keep``, dealt round-robin over the cohorts, at random within each."""
    rng = random.Random(seed)
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i in keep:
        groups.setdefault(keys[i], []).append(i)
    pools = [rng.sample(rows, len(rows)) for _, rows in sorted(groups.items(), key=str)]
    chosen: list[int] = []
    while len(chosen) < n and any(pools):
        for pool in pools:
            if pool and len(chosen) < n:
                chosen.append(pool.pop())
    return chosen


def sample_predictions(
    settings: Settings,
    deployment: str,
    *,
    strategy: str = "random",
    n: int = 50,
    window: str | Window = "30d",
    seed: int | None = None,
    confidence_column: str | None = None,
    by: tuple[str, ...] = (),
    exclude: set[str] = frozenset(),  # type: ignore[assignment]
) -> Sampled:
    """Pick ``n`` logged predictions of ``deployment`` as tasks (their inputs as data), from
    the ``window`` ending now (a duration) or a given :class:`Window` (a monitor's)."""
    _check(strategy, n, by)
    from keel.store.predlog import column_roles  # numpy: not for `keel label status`

    table = _logged(settings, deployment, window)
    ids = table.column("request_id").to_pylist()
    rows = table.column("row").to_pylist() if "row" in table.column_names else [0] * len(ids)
    keep = [i for i, rid in enumerate(ids) if f"{rid}{ROW_TAG}{rows[i]}" not in exclude]
    used: str | None = None
    if strategy == "random":
        chosen = random.Random(seed).sample(keep, min(n, len(keep)))
    elif strategy == "stratified":
        chosen = _stratified(_cohort_keys(table, by), keep, n, seed)
    else:
        conf, used = _confidence(table, column_roles(table.schema)[1], confidence_column)
        chosen = sorted(keep, key=lambda i: (conf[i], i))[:n]
    return Sampled(_tasks(table, deployment, chosen, ids, rows), len(ids), used)


def _check(strategy: str, n: int, by: tuple[str, ...]) -> None:
    if strategy not in STRATEGIES:
        raise InvalidArgumentError(f"strategy {strategy!r} is not one of {', '.join(STRATEGIES)}")
    if n < 1:
        raise InvalidArgumentError(f"--n {n}: sample at least one prediction")
    if strategy == "stratified" and not by:
        raise InvalidArgumentError(
            "stratified sampling needs cohort columns (--by col1,col2) or a monitor with "
            "cohorts on this deployment (keel monitor set --cohorts)"
        )


def _logged(settings: Settings, deployment: str, window: str | Window) -> Any:
    """The deployment's prediction log over ``window`` (an Arrow table), or a clear error."""
    from keel.store.predlog import PREDICTIONS, read_window

    log = EventLog(settings.artifacts_uri, PREDICTIONS)
    span = window if isinstance(window, Window) else Window.ending(window)
    if not log.files(deployment, span):
        when = f"the last {window}" if isinstance(window, str) else f"window {span.label}"
        raise NotFoundError(
            f"deployment {deployment!r} has no logged predictions in {when}; "
            "serve some first, or widen --window"
        )
    return read_window(log, deployment, span)


def _tasks(
    table: Any, deployment: str, chosen: list[int], ids: list[Any], rows: list[Any]
) -> list[NewTask]:
    """The chosen rows as tasks: the inputs and the model's output as data, the request id
    and row kept to join labels back to predictions."""
    from keel.store.predlog import column_roles

    inputs, outputs = column_roles(table.schema)
    records = table.select([c for c in inputs if c in table.column_names]).to_pylist()
    out_cols = [c for c in outputs if c in table.column_names]
    outs = table.select(out_cols).to_pylist() if out_cols else [{} for _ in ids]
    return [
        NewTask(
            data=plain({**records[i], "model_output": outs[i]}),
            source_ref=f"predictions/{deployment}{ROW_TAG}{rows[i]}",
            request_id=str(ids[i]),
        )
        for i in chosen
    ]


__all__ = ["ROW_TAG", "STRATEGIES", "Sampled", "plain", "sample_predictions"]
