"""Production samples: served predictions from the prediction log, picked at random or
where the model was least sure, as labeling tasks that keep their request ids."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from keel.config import Settings
from keel.exceptions import InvalidArgumentError, NotFoundError
from keel.store.eventlog import EventLog, Window
from keel.store.labeling import NewTask
from keel.store.predlog import PREDICTIONS, column_roles, read_window

STRATEGIES = ("random", "lowest-confidence")
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


def sample_predictions(
    settings: Settings,
    deployment: str,
    *,
    strategy: str = "random",
    n: int = 50,
    window: str = "30d",
    seed: int | None = None,
    confidence_column: str | None = None,
    exclude: set[str] = frozenset(),  # type: ignore[assignment]
) -> Sampled:
    """Pick ``n`` logged predictions of ``deployment`` as tasks (their inputs as data)."""
    if strategy not in STRATEGIES:
        raise InvalidArgumentError(f"strategy {strategy!r} is not one of {', '.join(STRATEGIES)}")
    if n < 1:
        raise InvalidArgumentError(f"--n {n}: sample at least one prediction")
    log = EventLog(settings.artifacts_uri, PREDICTIONS)
    span = Window.ending(window)
    if not log.files(deployment, span):
        raise NotFoundError(
            f"deployment {deployment!r} has no logged predictions in the last {window}; "
            "serve some first, or widen --window"
        )
    table = read_window(log, deployment, span)
    inputs, outputs = column_roles(table.schema)
    ids = table.column("request_id").to_pylist()
    rows = table.column("row").to_pylist() if "row" in table.column_names else [0] * len(ids)
    keep = [i for i, rid in enumerate(ids) if f"{rid}{ROW_TAG}{rows[i]}" not in exclude]
    used: str | None = None
    if strategy == "random":
        chosen = random.Random(seed).sample(keep, min(n, len(keep)))
    else:
        conf, used = _confidence(table, outputs, confidence_column)
        chosen = sorted(keep, key=lambda i: (conf[i], i))[:n]
    records = table.select([c for c in inputs if c in table.column_names]).to_pylist()
    out_cols = [c for c in outputs if c in table.column_names]
    outs = table.select(out_cols).to_pylist() if out_cols else [{} for _ in ids]
    tasks = [
        NewTask(
            data=plain({**records[i], "model_output": outs[i]}),
            source_ref=f"predictions/{deployment}{ROW_TAG}{rows[i]}",
            request_id=str(ids[i]),
        )
        for i in chosen
    ]
    return Sampled(tasks, len(ids), used)


__all__ = ["ROW_TAG", "STRATEGIES", "Sampled", "plain", "sample_predictions"]
