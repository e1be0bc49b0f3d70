"""Tour step for labeling: production samples labelled by three annotators, their agreement,
one label per sample, and the labels joined back to the predictions by request id."""

from __future__ import annotations

from typing import Any

from keel.quickstart._context import TourContext
from keel.quickstart._serving import DEPLOYMENT

PROJECT = "quickstart-review"
#: simulated annotators: how often (every n-th task) each one disagrees with the model
ANNOTATORS = {"alice": 0, "bob": 4, "carol": 6}


def label_production_samples(ctx: TourContext) -> None:
    """Sample served predictions into a labeling project with overlap 3, let three
    annotators work their queues, then show agreement, aggregation and the review queue."""
    from keel import labeling
    from keel.monitoring import record_feedback

    store = ctx.client.store
    pid = ctx.client.project.id
    config = {"kind": "classification", "labels": ["0", "1"], "field": "mean_radius"}
    if PROJECT not in {p.name for p in store.labeling.list_projects(pid)}:
        labeling.create_project(store, pid, PROJECT, config, overlap=3,
                                instructions="Malignant (0) or benign (1)?")  # fmt: skip
    added = labeling.sample(store, pid, PROJECT, DEPLOYMENT, n=12, window="1d", seed=0)
    for name, every in ANNOTATORS.items():
        for i in range(len(added)):
            task = store.labeling.next_task(pid, PROJECT, name)
            if task is None:
                break
            label = _model_label(task.data)
            if every and i % every == every - 1:
                label = "0" if label == "1" else "1"
            labeling.submit(store, pid, PROJECT, task.id, name, {"label": label})
    status = labeling.status(store, pid, PROJECT)
    agree = status.agreement
    assert agree is not None
    ctx.say(
        f"Sampled {len(added)} served predictions of {DEPLOYMENT!r} into labeling project "
        f"{PROJECT!r} (overlap 3); {status.progress.annotations} answers from "
        f"{len(ANNOTATORS)} annotators. Fleiss' kappa {_fmt(agree.fleiss_kappa)}, "
        f"Krippendorff's alpha {_fmt(agree.krippendorff_alpha)}; {status.review} task(s) "
        "to review"
    )
    ctx.table(
        "Cohen's kappa per annotator pair (`keel label status quickstart-review`)",
        ["annotator", "annotator", "tasks", "kappa"],
        [[p.a, p.b, p.tasks, _fmt(p.cohen_kappa)] for p in agree.pairs],
    )
    records = labeling.feedback_labels(store, pid, PROJECT, method="dawid-skene")
    fed = record_feedback(ctx.settings, DEPLOYMENT, records, source=f"label:{PROJECT}")
    ctx.say(
        f"Dawid-Skene labels joined to {len(records)} predictions by request id: "
        f"{fed.stored} new feedback label(s), {fed.already_labelled} kept (already labelled)"
    )
    ctx.results["labeling_status"] = status


def _model_label(data: dict[str, Any]) -> str:
    outputs = data.get("model_output") or {}
    value = next(iter(outputs.values()), 0)
    return str(int(float(value)))


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
