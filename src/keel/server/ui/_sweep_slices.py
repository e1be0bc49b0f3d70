"""Slice plots of the sweep page: each parameter's value against the objective, one small
SVG per parameter (as Optuna's ``plot_slice``), drawn here from the stored trials.

Points come from the completed trials, at most :data:`MAX_POINTS` per plot (an even
stride over the trials by number, plus the best one), so a 10,000-trial sweep stays light.
Numbers sit on a linear or log axis as the space says; choices on evenly spaced columns.
"""

from __future__ import annotations

import math
from typing import Any

from keel.server.ui._render import round_num

MAX_POINTS = 300
W, H, PAD = 340.0, 200.0, 30.0


def _sample(done: list[Any], best: Any) -> list[Any]:
    if len(done) <= MAX_POINTS:
        return done
    stride = len(done) / MAX_POINTS
    picked = [done[int(i * stride)] for i in range(MAX_POINTS)]
    return picked if best is None or best in picked else [*picked, best]


def _axis(entry: dict[str, Any], values: list[float]) -> tuple[Any, list[tuple[float, str]]]:
    """A function from a stored (internal) value to 0..1, and the axis's tick labels."""
    if entry.get("type") == "categorical":
        choices = list(entry.get("choices") or [])
        n = max(len(choices), 1)
        ticks = [((i + 0.5) / n, str(c)) for i, c in enumerate(choices)]
        return (lambda v: (v + 0.5) / n), ticks
    log = bool(entry.get("log"))
    lo = float(entry.get("low", min(values, default=0.0)))
    hi = float(entry.get("high", max(values, default=1.0)))
    scale = (lambda v: math.log10(v)) if log and lo > 0 else (lambda v: v)
    a, b = scale(lo), scale(hi)
    span = (b - a) or 1.0
    return (lambda v: (scale(v) - a) / span), [(0.0, f"{lo:g}"), (1.0, f"{hi:g}")]


def slices(trials: list[Any], space: dict[str, Any] | None, best: Any) -> list[dict[str, Any]]:
    """One plot per parameter of the space: points (x, y, trial, value as text) and axis
    labels."""
    done = [t for t in trials if t.state.value == "COMPLETE" and t.values]
    if not done or not space:
        return []
    done.sort(key=lambda t: t.number)
    shown = _sample(done, best)
    ys = [t.values[0] for t in done]
    y0, y1 = min(ys), max(ys)
    if y1 <= y0:
        y0, y1 = y0 - 0.5, y1 + 0.5

    def py(v: float) -> float:
        return round(H - PAD - (v - y0) / (y1 - y0) * (H - 2 * PAD), 1)

    def px(f: float) -> float:
        return round(PAD + f * (W - 2 * PAD), 1)

    label = {t.number: round_num(t.values[0]) for t in shown}  # once per trial, not per plot
    plots = []
    for name, entry in space.items():
        xs = [t.params[name] for t in shown if name in t.params]
        to_unit, ticks = _axis(entry, xs)
        points = [
            (px(to_unit(t.params[name])), py(t.values[0]), t.number, label[t.number])
            for t in shown
            if name in t.params
        ]
        plots.append(
            {
                "param": name,
                "points": points,
                "ticks": [(px(f), label) for f, label in ticks],
                "labels": [(py(y0), y0), (py(y1), y1)],
                "w": W,
                "h": H,
                "log": bool(entry.get("log")),
            }
        )
    return plots


__all__ = ["MAX_POINTS", "slices"]
