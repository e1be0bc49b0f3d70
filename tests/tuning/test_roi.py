"""keel.roi: options in money with bootstrap intervals, a learning curve, and a recommendation
that follows the evidence (ml, rule, collect more data, none); Markdown and HTML reports."""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from keel.exceptions import InvalidArgumentError
from keel.tracking import TrackingClient
from keel.tuning import ROIReport, roi


def _interactions(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """A target no single threshold explains (an interaction), which a model learns."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    noise = rng.normal(size=(n, 2))
    frame = pd.DataFrame({"a": a, "b": b, "n1": noise[:, 0], "n2": noise[:, 1]})
    frame["label"] = np.where(a + b + 0.2 * rng.normal(size=n) > 0, "buy", "skip")
    return frame


def _one_column_decides(n: int = 300, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"age": rng.integers(18, 80, n), "noise": rng.normal(size=n)})
    frame["senior"] = (frame.age >= 65).astype(int)
    return frame


def _roi(client: TrackingClient, frame: pd.DataFrame, target: str, **kw: float) -> ROIReport:
    money = {"value_per_correct": 12.0, "cost_per_error": 40.0, "predictions_per_month": 50_000}
    return roi(frame, target, budget=2, families=("linear",), client=client, **{**money, **kw})


@pytest.fixture(scope="module")
def learnable(client: TrackingClient) -> ROIReport:
    return _roi(client, _interactions(), "label")


def test_every_option_is_priced_with_an_interval(learnable: ROIReport) -> None:
    names = [o.name for o in learnable.options]
    assert names == ["majority", "best rule", "linear model", "automl"]
    for o in learnable.options:
        assert o.ci_low <= o.value_per_month <= o.ci_high
        expected = (o.accuracy * 12 - (1 - o.accuracy) * 40) * 50_000
        assert o.value_per_month == pytest.approx(expected)
    assert learnable.test_rows == 80
    assert learnable.options[0].description in ("always predict 'buy'", "always predict 'skip'")
    assert learnable.options[1].description.startswith("if ")


def test_ml_is_recommended_when_it_clearly_beats_the_rule(learnable: ROIReport) -> None:
    assert learnable.recommendation == "ml", learnable.reasons
    assert learnable.gain_ci[0] > 0
    assert [p.share for p in learnable.curve] == [0.25, 0.5, 0.75, 1.0]
    assert learnable.curve[-1].rows == 320


def test_the_rule_is_recommended_when_one_column_decides(client: TrackingClient) -> None:
    report = _roi(client, _one_column_decides(), "senior")
    rule = report.options[1]
    assert rule.accuracy == 1.0 and "age <=" in rule.description
    assert report.recommendation == "rule", report.reasons
    assert "ship the rule" in report.reasons[-1]


def test_nothing_is_recommended_when_every_option_loses_money(client: TrackingClient) -> None:
    report = _roi(client, _interactions(), "label", value_per_correct=0.1, cost_per_error=100.0)
    assert report.recommendation == "none", report.reasons
    assert all(o.ci_high < 0 for o in report.options)
    assert "do not automate" in report.reasons[-1]


def test_reports_in_markdown_and_self_contained_html(learnable: ROIReport) -> None:
    md = learnable.to_markdown()
    assert "**Recommendation: Build the ML model** (`ml`)" in md
    assert "| automl | ml |" in md and "## Learning curve" in md
    page = learnable.to_html()
    tags: list[tuple[str, dict[str, str | None]]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            tags.append((tag, dict(attrs)))

    Collect().feed(page)
    names = [t for t, _a in tags]
    assert {"table", "svg", "polyline", "style"} <= set(names)
    # self-contained: nothing is fetched from elsewhere
    assert not [a for _t, a in tags if a.get("src") or a.get("href")]


def test_bad_input_is_one_clear_line(client: TrackingClient) -> None:
    frame = _interactions()
    frame["amount"] = np.random.default_rng(0).normal(size=len(frame))
    with pytest.raises(InvalidArgumentError, match="target 'amount' is numeric"):
        _roi(client, frame.drop(columns=["label"]), "amount")
    with pytest.raises(InvalidArgumentError, match="cost_per_error must be a non-negative"):
        _roi(client, frame, "label", cost_per_error=-1.0)
