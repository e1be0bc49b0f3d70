"""Which way is better for a metric: lower for losses and errors, higher otherwise.

The direction is inferred from the metric's name (``val_loss``, ``test-rmse``,
``p99_latency_ms`` are lower-is-better) unless a tag says otherwise: a run or experiment
tag ``keel.metric_direction.<metric>`` set to ``min`` or ``max``. Run tags win over
experiment tags; the first run that sets one decides for a group of several runs.
The web UI's best/worst colours and comparison reports both read :func:`metric_directions`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

TAG_PREFIX = "keel.metric_direction."
#: Name parts that mean "lower is better".
LOWER_WORDS = frozenset(
    {
        "loss", "error", "err", "errors", "mae", "mse", "rmse", "rmsle", "msle", "mape",
        "smape", "logloss", "nll", "perplexity", "ppl", "latency", "wer", "cer", "fpr",
        "fnr", "regret", "cost", "brier", "hamming", "duration", "runtime", "seconds",
        "ms", "mem", "memory", "distance", "divergence", "kl", "bpc", "bpb",
    }
)  # fmt: skip
_WORD = re.compile(r"[a-z0-9]+")


def lower_is_better(metric: str) -> bool:
    """Whether the name alone says lower is better (``val_loss`` yes, ``accuracy`` no)."""
    words = _WORD.findall(metric.lower())
    return any(w in LOWER_WORDS or w.endswith(("loss", "error")) for w in words)


def _explicit(tags: Mapping[str, str], metric: str) -> bool | None:
    value = tags.get(TAG_PREFIX + metric, "").strip().lower()
    if value in ("min", "lower", "minimize"):
        return True
    if value in ("max", "higher", "maximize"):
        return False
    return None


def metric_directions(
    metrics: Iterable[str], tag_sets: Sequence[Mapping[str, str]]
) -> dict[str, bool]:
    """``{metric: lower_is_better}``: the first tag set (runs first, then experiments)
    that names a direction decides, else the name."""
    out = {}
    for metric in metrics:
        found = next((d for tags in tag_sets if (d := _explicit(tags, metric)) is not None), None)
        out[metric] = lower_is_better(metric) if found is None else found
    return out


__all__ = ["LOWER_WORDS", "TAG_PREFIX", "lower_is_better", "metric_directions"]
