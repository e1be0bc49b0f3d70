"""The tracking client: experiments, runs and what they log, over a :class:`~keel.store.Store`."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keel.exceptions import InvalidArgumentError, NotFoundError
from keel.store import (
    ArtifactInfo,
    Experiment,
    Metric,
    Run,
    RunInfo,
    RunPage,
    RunStatus,
    Store,
)
from keel.store.paths import safe_relpath
from keel.store.projects import ProjectByName

DEFAULT_EXPERIMENT = "Default"


@dataclass(frozen=True, slots=True)
class RunComparison:
    """Runs side by side: every param and metric key, and which ones differ."""

    runs: list[Run]
    params: dict[str, list[str | None]]
    metrics: dict[str, list[float | None]]
    differing_params: list[str]
    best: dict[str, str]  # metric key -> run id with the highest value


class TrackingClient(ProjectByName):
    """Record and read runs of one project. Thread-safe; cheap to create."""

    def __init__(self, store: Store, project: str = "default") -> None:
        super().__init__(store, project)

    # -- experiments -----------------------------------------------------------------------
    def create_experiment(
        self, name: str, *, description: str = "", tags: Mapping[str, str] | None = None
    ) -> Experiment:
        from keel.store.experiments import check_experiment

        check_experiment(name, tags or {})  # before the project is made: a bad one leaves none
        return self.store.experiments.create(
            self.project.id, name, description=description, tags=tags or {}
        )

    def experiment(self, name_or_id: str | int) -> Experiment:
        """An experiment by name, or by id when given an int or a string of digits."""
        if isinstance(name_or_id, int) or (isinstance(name_or_id, str) and name_or_id.isdigit()):
            exp = self.store.experiments.get(int(name_or_id))
            if exp.project_id != self.existing_project().id:
                raise NotFoundError(f"experiment id {name_or_id} is not in this project")
            return exp
        return self.store.experiments.get_by_name(self.existing_project().id, name_or_id)

    def get_or_create_experiment(self, name: str) -> Experiment:
        from keel.store.experiments import check_experiment

        check_experiment(name)  # before the project is made: a bad one leaves none
        return self.store.experiments.get_or_create(self.project.id, name)

    def list_experiments(self, *, include_deleted: bool = False) -> list[Experiment]:
        pid = self.existing_project().id
        return self.store.experiments.list(pid, include_deleted=include_deleted)

    # -- runs ------------------------------------------------------------------------------
    def create_run(
        self,
        experiment: str | int = DEFAULT_EXPERIMENT,
        *,
        name: str | None = None,
        parent_id: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> RunInfo:
        if isinstance(experiment, str) and not experiment.isdigit():
            exp = self.get_or_create_experiment(experiment)
        else:
            exp = self.experiment(experiment)
        if parent_id is not None:
            self.get_run(parent_id)
        return self.store.runs.create(
            exp.id, name=name, parent_id=parent_id, user=_user(), tags=tags
        )

    def get_run(self, run_id: str) -> Run:
        run = self.store.runs.get(run_id)
        self._check_project(run.info)
        return run

    def resolve_run_id(self, run_id: str) -> str:
        """A full run id, or the one run of this project whose id starts with ``run_id``
        (at least 6 characters: the listings print 8)."""
        if len(run_id) == 32:
            return run_id
        if len(run_id) < 6:
            raise InvalidArgumentError(
                f"run id prefix {run_id!r} is too short; give at least 6 characters"
            )
        if not run_id.replace("-", "").isalnum():  # nothing a LIKE pattern reads as a wildcard
            raise NotFoundError(f"no run id starts with {run_id!r}")
        # ilike: SQLite's LIKE ignores case and PostgreSQL's does not; a prefix typed in
        # capitals finds the run on both
        page = self.search_runs(f"attributes.run_id ilike '{run_id}%'", max_results=2)
        if not page.runs:
            raise NotFoundError(f"no run id starts with {run_id!r}")
        if len(page.runs) > 1:
            raise InvalidArgumentError(
                f"run id prefix {run_id!r} is ambiguous; give more characters"
            )
        return page.runs[0].id

    def end_run(self, run_id: str, status: RunStatus = RunStatus.FINISHED) -> RunInfo:
        return self.store.runs.update(run_id, status=RunStatus(status))

    def close_run(self, run_id: str, status: RunStatus | str | None = None) -> RunInfo:
        """End a run from outside its process (``keel runs end``): a lost run, or one left
        RUNNING. ``status`` defaults to KILLED for a lost run and FINISHED otherwise. A run
        that already ended is refused and left as it is."""
        from keel.tracking._lifecycle import is_lost

        asked = None if status is None else _terminal_status(status)  # bad input first
        run = self.get_run(run_id)
        if run.status.is_terminal:
            raise InvalidArgumentError(
                f"run {run_id} already ended {run.status.value}; nothing changed"
            )
        if asked is None:
            chosen = RunStatus.KILLED if is_lost(run) else RunStatus.FINISHED
        else:
            chosen = asked
        self.set_tag(run_id, "keel.ended_by", "keel runs end")
        return self.store.runs.update(run_id, status=chosen)

    def set_note(self, run_id: str, markdown: str) -> None:
        self.store.runs.update(run_id, note=markdown)

    def delete_run(self, run_id: str) -> None:
        self.get_run(run_id)
        self.store.runs.delete(run_id)

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        self.store.runs.log_params(run_id, {key: value})

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        self.store.runs.log_params(run_id, params)

    def log_metric(
        self, run_id: str, key: str, value: float, step: int = 0, timestamp: int | None = None
    ) -> None:
        self.store.runs.log_metric(run_id, Metric(key, _number(key, value), step, timestamp or 0))

    def log_metrics(
        self, run_id: str, metrics: Mapping[str, float], step: int = 0, timestamp: int | None = None
    ) -> None:
        ts = timestamp or int(time.time() * 1000)
        self.store.runs.log_batch(
            run_id, metrics=[Metric(k, _number(k, v), step, ts) for k, v in metrics.items()]
        )

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Sequence[Metric] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        self.store.runs.log_batch(run_id, metrics=metrics, params=params, tags=tags)

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self.store.runs.set_tags(run_id, {key: value})

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        self.store.runs.set_tags(run_id, tags)

    def metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every logged point of one metric; a metric the run never logged is an error that
        names the ones it did (``keel runs history`` and ``keel.metric_history`` alike)."""
        points = self.store.runs.metric_history(run_id, key)
        if not points:
            logged = sorted(self.get_run(run_id).metrics)
            raise NotFoundError(
                f"run {run_id[:8]} has no metric {key!r}; "
                + (f"it has: {', '.join(logged)}" if logged else "it logged no metrics")
            )
        return points

    # -- artifacts -------------------------------------------------------------------------
    def log_artifact(
        self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> list[ArtifactInfo]:
        """Store a file or a whole folder under the run, at ``artifact_path`` (or its name)."""
        src = Path(local_path)
        if not src.exists():
            raise NotFoundError(f"cannot log artifact {str(src)!r}: no such file or folder")
        base = safe_relpath(artifact_path) if artifact_path else None
        items = []
        if src.is_dir():
            prefix = base or src.name
            for file in sorted(p for p in src.rglob("*") if p.is_file()):
                rel = file.relative_to(src).as_posix()
                items.append((f"{prefix}/{rel}", self.store.blobs.put_file(file)))
        else:
            items.append((base or src.name, self.store.blobs.put_file(src)))
        return self.store.artifacts.add(run_id, items)

    def log_text(self, run_id: str, text: str, artifact_path: str) -> ArtifactInfo:
        ref = self.store.blobs.put_bytes(text.encode("utf-8"))
        return self.store.artifacts.add(run_id, [(artifact_path, ref)])[0]

    def list_artifacts(self, run_id: str, prefix: str | None = None) -> list[ArtifactInfo]:
        self.get_run(run_id)
        return self.store.artifacts.list(run_id, prefix)

    def read_artifact(self, run_id: str, path: str) -> bytes:
        return self.store.blobs.read_bytes(self.store.artifacts.get(run_id, path).blob_sha)

    def download_artifacts(
        self, run_id: str, dest: str | os.PathLike[str], path: str | None = None
    ) -> list[Path]:
        """Copy one artifact or a folder of them to ``dest``, keeping relative paths."""
        items = self.list_artifacts(run_id, path)
        if not items:
            raise NotFoundError(f"run {run_id!r} has no artifact {path or ''!r}")
        out = []
        root = Path(dest)
        for art in items:
            out.append(self.store.blobs.download(art.blob_sha, root / safe_relpath(art.path)))
        return out

    # -- search and compare ----------------------------------------------------------------
    def search_runs(
        self,
        filter_string: str | None = None,
        *,
        experiments: Iterable[str | int] | None = None,
        order_by: Sequence[str] | str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> RunPage:
        """Runs matching a filter such as ``metrics.auc > 0.9 and params.model = 'rf'``."""
        if experiments is None:
            ids = [e.id for e in self.list_experiments()]
        else:
            ids = [self.experiment(e).id for e in experiments]
        if not ids:
            return RunPage([], None)
        return self.store.runs.search(
            ids, filter_string, order_by=order_by, max_results=max_results, page_token=page_token
        )

    def compare_runs(self, run_ids: Sequence[str]) -> RunComparison:
        if len(run_ids) < 2:
            raise InvalidArgumentError("compare needs at least two run ids")
        runs = self.store.runs.get_many(run_ids)
        for r in runs:
            self._check_project(r.info)
        param_keys = sorted({k for r in runs for k in r.params})
        metric_keys = sorted({k for r in runs for k in r.metrics})
        params = {k: [r.params.get(k) for r in runs] for k in param_keys}
        metrics = {k: [r.metrics.get(k) for r in runs] for k in metric_keys}
        differing = [k for k, vals in params.items() if len(set(vals)) > 1]
        best = {}
        for k, vals in metrics.items():
            scored = [
                (v, r.id)
                for v, r in zip(vals, runs, strict=True)
                if v is not None and not math.isnan(v)
            ]
            if scored:
                best[k] = max(scored)[1]
        return RunComparison(runs, params, metrics, differing, best)

    def _check_project(self, info: RunInfo) -> None:
        exp = self.store.experiments.get(info.experiment_id)
        if exp.project_id != self.existing_project().id:
            raise NotFoundError(
                f"run id {info.id!r} does not exist in project {self.project_name!r}"
            )


def _terminal_status(status: RunStatus | str) -> RunStatus:
    text = status.value if isinstance(status, RunStatus) else str(status).strip().upper()
    ends = [s.value for s in RunStatus if s.is_terminal]
    if text not in ends:
        raise InvalidArgumentError(
            f"a run ends with status {', '.join(ends)}; {str(status)!r} is not one of them"
        )
    return RunStatus(text)


def _number(key: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(
            f"metric {key!r} must be a number, got {value!r}; log text as a tag or param"
        ) from exc


def _user() -> str:
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # no user database entry in some containers
        return os.environ.get("USER", "")
