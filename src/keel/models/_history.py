"""Performance across versions (PG_4): a table of chosen metrics, and a PNG chart of them.

matplotlib is an extra (``keel[charts]``) imported only when a chart is drawn.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from keel.exceptions import ConfigError, InvalidArgumentError
from keel.models._registry import Registry


@dataclass(frozen=True)
class HistoryRow:
    version: int
    created_at: int
    aliases: list[str]
    run_id: str | None
    metrics: dict[str, float | None]


def history(
    registry: Registry, name: str, metrics: list[str] | None = None
) -> tuple[list[str], list[HistoryRow]]:
    """Every version of ``name`` with the chosen metrics (all the model's metrics by default)."""
    versions = registry.versions(name)
    keys = metrics or sorted({k for v in versions for k in v.metrics})
    if metrics:
        known = {k for v in versions for k in v.metrics}
        missing = [m for m in metrics if m not in known]
        if missing and versions:
            raise InvalidArgumentError(
                f"no version of {name!r} has metric {missing[0]!r}; its metrics are "
                f"{', '.join(sorted(known)) or 'none'}"
            )
    rows = [
        HistoryRow(
            v.version, v.created_at, v.aliases, v.run_id, {k: v.metrics.get(k) for k in keys}
        )
        for v in versions
    ]
    return keys, rows


def chart(name: str, keys: list[str], rows: list[HistoryRow], dest: str | os.PathLike[str]) -> Path:
    """Draw one line per metric against the version number; returns the PNG path."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ConfigError("charts need matplotlib: pip install 'keel[charts]'") from exc
    if not rows or not keys:
        raise InvalidArgumentError(f"model {name!r} has no versions with metrics to chart")
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    versions = [r.version for r in rows]
    for key in keys:
        points = [(r.version, float(v)) for r in rows if (v := r.metrics.get(key)) is not None]
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=key)
    for r in rows:
        for alias in r.aliases:
            ax.axvline(r.version, color="grey", linestyle=":", linewidth=1)
            ax.annotate(alias, (r.version, ax.get_ylim()[1]), fontsize=8, ha="center", va="bottom")
    ax.set_xticks(versions)
    ax.set_xlabel("version")
    ax.set_ylabel("metric value")
    ax.set_title(f"{name}: metrics by version")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out = Path(dest)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


__all__ = ["HistoryRow", "chart", "history"]
