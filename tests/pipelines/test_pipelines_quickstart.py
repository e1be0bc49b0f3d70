"""The quickstart's pipeline step: prepare -> train -> evaluate, then all from cache."""

from __future__ import annotations

from keel.config import Settings
from keel.quickstart import TourContext
from keel.quickstart._pipelines import run_pipeline
from keel.store import open_store
from keel.tracking import TrackingClient


def test_second_quickstart_run_takes_every_step_from_cache(settings: Settings) -> None:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    store = open_store(settings)
    lines: list[str] = []
    ctx = TourContext(
        settings=settings,
        client=TrackingClient(store),
        say=lines.append,
        table=lambda *a: None,
        results={"frame": frame},
        fast=True,
    )
    run_pipeline(ctx)
    store.close()
    assert lines[0].startswith("First run: prepare (ran), train (ran), evaluate (ran)")
    assert lines[1].startswith("Second run: prepare (cached), train (cached), evaluate (cached)")
    assert "Every step came from the cache" in lines[2] and "auc=0.9" in lines[2]
