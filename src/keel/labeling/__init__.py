"""Labeling: projects, queues, annotators, agreement, aggregation, label quality and
production samples (CR_10, VR_6, MN_7).

::

    from keel import labeling
    labeling.create_project(store, pid, "sentiment",
                            {"kind": "classification", "labels": ["pos", "neg"]}, overlap=3)
    labeling.sample(store, pid, "sentiment", "churn-api", strategy="lowest-confidence", n=50)
    task = store.labeling.next_task(pid, "sentiment", "ann")
    labeling.submit(store, pid, "sentiment", task.id, "ann", {"label": "pos"})
    labeling.status(store, pid, "sentiment").agreement
    labeling.relabel_check(store, pid, "sentiment", n=20, floor=0.8)  # on a schedule
"""

from __future__ import annotations

from typing import Any

from keel.labeling._aggregate import METHODS, Aggregated, aggregate, dawid_skene, majority_vote
from keel.labeling._agreement import Agreement, PairAgreement, agreement
from keel.labeling._client import (
    AgreementCheck,
    Imported,
    Status,
    aggregate_labels,
    check_agreement,
    config_of,
    create_project,
    export_dataset,
    export_labelstudio,
    export_rows,
    feedback_labels,
    import_tasks,
    iter_annotations,
    iter_tasks,
    monitor_cohorts,
    project_agreement,
    review,
    sample,
    status,
    submit,
    write_labelstudio,
)
from keel.labeling._config import KINDS, LabelConfig, answer_key, check_result, parse_config
from keel.labeling._labelstudio import config_xml
from keel.labeling._quality import LabelIssue, find_label_issues
from keel.labeling._relabel import RelabelCheck, RelabelRound, relabel_check
from keel.labeling._sample import STRATEGIES


def check_answer(config: dict[str, Any], data: dict[str, Any], result: Any) -> dict[str, Any]:
    """``result`` checked against a stored label ``config`` and the task's ``data``."""
    return check_result(parse_config(config), data, result)


__all__ = [
    "KINDS",
    "METHODS",
    "STRATEGIES",
    "Aggregated",
    "Agreement",
    "AgreementCheck",
    "Imported",
    "LabelConfig",
    "LabelIssue",
    "PairAgreement",
    "RelabelCheck",
    "RelabelRound",
    "Status",
    "aggregate",
    "aggregate_labels",
    "agreement",
    "answer_key",
    "check_agreement",
    "check_answer",
    "check_result",
    "config_of",
    "config_xml",
    "create_project",
    "dawid_skene",
    "export_dataset",
    "export_labelstudio",
    "export_rows",
    "feedback_labels",
    "find_label_issues",
    "import_tasks",
    "iter_annotations",
    "iter_tasks",
    "majority_vote",
    "monitor_cohorts",
    "parse_config",
    "project_agreement",
    "relabel_check",
    "review",
    "sample",
    "status",
    "submit",
    "write_labelstudio",
]
