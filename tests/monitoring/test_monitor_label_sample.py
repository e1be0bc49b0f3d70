"""A monitor's label_sample option: each run adds served predictions of its window to a
labeling project through keel.labeling.sample (least confident, or stratified by the
columns that drifted), checked when the monitor is set."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from monitoring_helpers import NOW, Traffic

from keel import labeling
from keel.exceptions import InvalidArgumentError, NotFoundError
from keel.monitoring import MonitoringClient

CONFIG = {"kind": "classification", "labels": ["0", "1"]}


def _set(mon: MonitoringClient, **sample: object) -> None:
    mon.configure("churn", reference="model:churn/1", window="1h", label_sample=sample)


def test_label_sample_is_checked_when_the_monitor_is_set(mon: MonitoringClient) -> None:
    with pytest.raises(NotFoundError, match="labeling project 'nope' does not exist"):
        _set(mon, project="nope")
    labeling.create_project(mon.store, mon.project_id, "churn-labels", CONFIG)
    with pytest.raises(InvalidArgumentError, match="strategy 'psychic' is not one of random"):
        _set(mon, project="churn-labels", strategy="psychic")
    with pytest.raises(InvalidArgumentError, match="needs a labeling project"):
        _set(mon, n=5)
    with pytest.raises(InvalidArgumentError, match="n=0 must be between 1"):
        _set(mon, project="churn-labels", n=0)
    mon.update("churn", label_project="churn-labels", label_strategy="lowest_confidence")
    stored = mon.monitor("churn").config["label_sample"]
    assert stored == {
        "project": "churn-labels",
        "n": 50,
        "strategy": "lowest-confidence",
        "confidence_column": None,
    }


def test_each_run_adds_the_least_confident_predictions(
    mon: MonitoringClient, send: Callable[..., Traffic]
) -> None:
    labeling.create_project(mon.store, mon.project_id, "churn-labels", CONFIG)
    _set(mon, project="churn-labels", n=20, strategy="lowest-confidence")
    sent = send(500)
    (run,) = mon.run("churn", end_ms=NOW)
    assert len(run.label_tasks) == 20 and run.to_dict()["label_tasks"] == run.label_tasks
    assert any("20 prediction(s) added to labeling project 'churn-labels'" in n for n in run.notes)
    tasks = [
        mon.store.labeling.get_task(mon.project_id, "churn-labels", t) for t in run.label_tasks
    ]
    lowest = {sent.ids[i] for i in np.argsort(sent.proba)[:20]}
    assert {t.request_id for t in tasks} == lowest
    (again,) = mon.run("churn", end_ms=NOW)  # the next 20, none twice
    got = {mon.store.labeling.get_task(mon.project_id, "churn-labels", t).request_id
           for t in again.label_tasks}  # fmt: skip
    assert len(got) == 20 and not got & lowest
    assert max(sent.proba[np.isin(sent.ids, list(lowest))]) <= min(
        sent.proba[np.isin(sent.ids, list(got))]
    )


def test_stratified_sample_follows_the_drifted_columns(
    mon: MonitoringClient, send: Callable[..., Traffic]
) -> None:
    labeling.create_project(mon.store, mon.project_id, "churn-labels", CONFIG)
    _set(mon, project="churn-labels", n=40, strategy="stratified")
    sent = send(2000, age_shift=15)
    (run,) = mon.run("churn", end_ms=NOW)
    assert run.drift is not None and "age" in {f.column for f in run.drift.drifted}
    note = next(n for n in run.notes if n.startswith("label sample"))
    assert "(stratified by " in note and "age" in note
    ages = [
        mon.store.labeling.get_task(mon.project_id, "churn-labels", t).data["age"]
        for t in run.label_tasks
    ]
    cuts = np.quantile(sent.features["age"], [0.25, 0.5, 0.75])
    bands = np.searchsorted(cuts, ages)
    assert np.bincount(bands, minlength=4).tolist() == [10, 10, 10, 10]  # each age quartile


def test_a_deleted_project_is_a_note_not_a_failed_run(
    mon: MonitoringClient, send: Callable[..., Traffic]
) -> None:
    labeling.create_project(mon.store, mon.project_id, "churn-labels", CONFIG)
    _set(mon, project="churn-labels", n=5)
    send(100)
    stored = mon.monitor("churn").config
    mon.store.monitors.upsert(
        mon.project_id, "churn", config={**stored, "label_sample": {"project": "gone"}}
    )
    (run,) = mon.run("churn", end_ms=NOW)
    assert run.rows == 100 and run.label_tasks == []
    assert any("label sample for 'gone' skipped" in n for n in run.notes)
