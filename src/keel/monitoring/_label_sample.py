"""A monitor's ``label_sample`` option: each run adds a sample of the window's served
predictions to a labeling project through :func:`keel.labeling.sample` (random, least
confident, or stratified by the columns that drifted in this run, else by the monitor's
cohorts). A sample that cannot be taken is a note on the run, never a failed run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from keel.exceptions import KeelError

if TYPE_CHECKING:
    from keel.monitoring._drift import DriftReport
    from keel.monitoring._monitor_config import LabelSampleSpec
    from keel.store import Store
    from keel.store.eventlog import Window


def sample_for_labels(
    store: Store,
    project_id: int,
    deployment: str,
    window: Window,
    spec: LabelSampleSpec,
    drift: DriftReport | None,
    outputs: list[str],
    notes: list[str],
) -> list[int]:
    """Add the run's sample to ``spec.project``; returns the new task ids."""
    from keel import labeling

    strategy = spec.strategy
    by: tuple[str, ...] = ()
    if strategy == "stratified":
        drifted = [f.column for f in (drift.drifted if drift else []) if f.column not in outputs]
        by = tuple(dict.fromkeys(drifted))
        if not by and not labeling.monitor_cohorts(store, project_id, deployment):
            strategy = "random"
            notes.append("label sample: no drifted column and no cohorts; sampled at random")
    try:
        added = labeling.sample(
            store,
            project_id,
            spec.project,
            deployment,
            strategy=strategy,
            n=spec.n,
            window=window,
            seed=window.end_ms,
            confidence_column=spec.confidence_column,
            by=by,
        )
    except KeelError as exc:
        notes.append(f"label sample for {spec.project!r} skipped: {exc}")
        return []
    cohort = f" by {', '.join(by)}" if by else ""
    notes.append(
        f"label sample: {len(added)} prediction(s) added to labeling project {spec.project!r} "
        f"({strategy}{cohort})"
    )
    return added


__all__ = ["sample_for_labels"]
