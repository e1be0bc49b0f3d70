"""The step cache: hits, misses and their reasons, missing blobs, failures and resume."""

from __future__ import annotations

import importlib
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import keel
from keel.exceptions import NotFoundError, StepFailedError
from keel.pipelines import load_pipeline
from keel.store import RunStatus, Store
from keel.store.entities import DatasetFile
from keel.store.pipelines import StepStatus

FLOW = """
from __future__ import annotations
from pathlib import Path
import keel
import numpy as np
import pandas as pd

OFFSET = {offset}

def helper(x):
    return x + OFFSET

@keel.step
def make(n: int) -> pd.DataFrame:
    return pd.DataFrame({{"x": np.arange(n, dtype="int64")}})

@keel.step
def shift(df: pd.DataFrame) -> np.ndarray:
    return helper(df["x"].to_numpy())

@keel.step
def count(folder: Path) -> int:
    return len(list(folder.iterdir()))

@keel.step
def total(arr: np.ndarray, files: int, scale: float) -> float:
    return float(arr.sum()) * scale + files

@keel.pipeline
def flow(n: int = 5, scale: float = 1.0, folder: Path = Path("{folder}")):
    arr = shift(make(n))
    return total(arr, count(folder), scale)
"""


def write_flow(tmp_path: Path, offset: int = 0) -> Any:
    folder = tmp_path / "inputs"
    folder.mkdir(exist_ok=True)
    path = tmp_path / "flow.py"
    path.write_text(FLOW.format(offset=offset, folder=folder.as_posix()))
    importlib.invalidate_caches()
    return load_pipeline(f"{path}:flow")


def statuses(result: Any) -> dict[str, str]:
    return {n: s.status.value for n, s in result.steps.items()}


def test_second_run_comes_from_cache_and_changes_miss_with_reasons(
    store: Store, tmp_path: Path
) -> None:
    flow = write_flow(tmp_path)
    first = flow.run(store=store)
    assert first.value() == 10.0
    assert set(statuses(first).values()) == {"ran"}
    again = flow.run(store=store)
    assert again.all_cached and again.value() == 10.0

    changed = flow.run({"scale": 2.0}, store=store)
    assert statuses(changed) == {
        "make": "cached",
        "shift": "cached",
        "count": "cached",
        "total": "ran",
    }
    assert changed.steps["total"].reason == "input 'scale' changed"

    flow = write_flow(tmp_path, offset=1)  # helper() reads OFFSET: shift's code version moves
    recoded = flow.run(store=store)
    assert statuses(recoded)["make"] == "cached"
    assert statuses(recoded)["shift"] == "ran"
    assert "its code changed" in recoded.steps["shift"].reason
    assert statuses(recoded)["total"] == "ran"  # its input's content changed
    assert recoded.value() == 15.0

    (tmp_path / "inputs" / "new.txt").write_text("hello")
    refiled = flow.run(store=store)
    assert statuses(refiled)["count"] == "ran"
    assert refiled.steps["count"].reason == "input 'folder' changed"
    assert refiled.value() == 16.0


def test_identical_upstream_output_keeps_downstream_cached(sqlite_store: Store) -> None:
    @keel.step
    def parity(n: int) -> int:
        return n % 2

    @keel.step
    def expensive(bit: int) -> str:
        return "odd" if bit else "even"

    @keel.pipeline
    def p(n: int = 1) -> Any:
        return expensive(parity(n))

    p.run(store=sqlite_store)
    result = p.run({"n": 3}, store=sqlite_store)
    assert statuses(result) == {"parity": "ran", "expensive": "cached"}


def test_cached_output_whose_blob_is_gone_is_recomputed(
    sqlite_store: Store, tmp_path: Path
) -> None:
    flow = write_flow(tmp_path)
    flow.run(store=sqlite_store)
    project = sqlite_store.projects.get("default")
    entry = next(
        e for e in (sqlite_store.step_cache.latest_for_step(project.id, "shift"),) if e is not None
    )
    sqlite_store.blobs.delete(entry.blob_shas[0])
    result = flow.run(store=sqlite_store)
    assert statuses(result)["shift"] == "ran"
    assert "is missing; recomputing" in result.steps["shift"].reason
    assert statuses(result)["total"] == "cached"  # same bytes again: same data version
    assert sqlite_store.blobs.exists(entry.blob_shas[0])
    assert result.value() == 10.0


@keel.step
def stage_a(n: int) -> int:
    return n + 1


@keel.step
def fragile(x: int, marker: str) -> int:
    if Path(marker).exists():
        raise ValueError(f"refusing x={x}: the marker file exists")
    return x * 10


@keel.step
def stage_c(y: int) -> int:
    return y + 1


@keel.pipeline
def resumable(marker: str, n: int = 1) -> Any:
    return stage_c(fragile(stage_a(n), marker))


def test_failing_step_names_itself_keeps_the_store_consistent_and_resumes(
    store: Store, tmp_path: Path
) -> None:
    marker = tmp_path / "broken"
    marker.write_text("x")
    with pytest.raises(StepFailedError) as info:
        resumable.run({"marker": str(marker)}, store=store)
    message = str(info.value)
    assert "step 'fragile' failed after 1 attempt(s): ValueError: refusing x=2" in message
    assert f"marker={str(marker)!r}".replace("'", '"') in message
    assert isinstance(info.value.__cause__, ValueError)  # the original, with its traceback
    result = info.value.result  # type: ignore[attr-defined]
    assert statuses(result) == {"stage_a": "ran", "fragile": "failed", "stage_c": "skipped"}

    run = store.pipeline_runs.get(result.run_id)
    assert (run.status, run.n_ran, run.n_failed) == ("FAILED", 1, 1)
    rows = {s.node: s for s in store.pipeline_runs.steps(result.run_id)}
    assert "Traceback" in rows["fragile"].error and rows["stage_c"].status is StepStatus.SKIPPED
    child = store.runs.get(rows["fragile"].run_id or "")
    assert child.status is RunStatus.FAILED and "refusing" in child.tags["keel.error"]
    assert store.runs.get(result.run_id).status is RunStatus.FAILED
    project = store.projects.get("default")
    assert store.step_cache.latest_for_step(project.id, "fragile") is None

    marker.unlink()
    resumed = resumable.run({"marker": str(marker)}, store=store)
    assert statuses(resumed) == {"stage_a": "cached", "fragile": "ran", "stage_c": "ran"}
    assert resumed.value() == 21


def test_unstorable_output_is_a_clear_error_unless_the_step_is_not_cached(
    sqlite_store: Store,
) -> None:
    class Opaque:
        pass

    @keel.step
    def opaque() -> Opaque:
        return Opaque()

    @keel.step
    def use(o: Opaque) -> str:
        return type(o).__name__

    @keel.pipeline
    def p() -> Any:
        return use(opaque())

    with pytest.raises(
        StepFailedError, match=r"step 'opaque' failed.*type .*Opaque, which no materializer"
    ):
        p.run(store=sqlite_store)
    project = sqlite_store.projects.get("default")
    assert sqlite_store.step_cache.stats(project.id) == []

    opaque.cache = False
    assert p.run(store=sqlite_store).value() == "Opaque"  # in memory, in-process


def test_retries_with_backoff_then_success(sqlite_store: Store, tmp_path: Path) -> None:
    counter = tmp_path / "attempts"

    @keel.step(retries=2, retry_backoff=0.05)
    def flaky() -> int:
        n = int(counter.read_text()) if counter.exists() else 0
        counter.write_text(str(n + 1))
        if n < 2:
            raise ConnectionError(f"attempt {n + 1} lost the connection")
        return n

    @keel.pipeline
    def p() -> Any:
        return flaky()

    start = time.perf_counter()
    result = p.run(store=sqlite_store)
    assert result.value() == 2 and result.steps["flaky"].attempts == 3
    assert time.perf_counter() - start >= 0.15  # 0.05 + 0.10 of backoff


def test_in_process_timeout_stops_the_step(sqlite_store: Store) -> None:
    @keel.step(timeout=0.2)
    def slow() -> int:
        time.sleep(5)
        return 1

    @keel.pipeline
    def p() -> Any:
        return slow()

    start = time.perf_counter()
    with pytest.raises(StepFailedError, match=r"ran longer than its timeout of 0\.2s"):
        p.run(store=sqlite_store)
    assert time.perf_counter() - start < 2


def test_no_cache_runs_everything_and_cache_false_always_runs(sqlite_store: Store) -> None:
    @keel.step(cache=False)
    def now() -> float:
        return time.time()

    @keel.step
    def double(x: int) -> int:
        return 2 * x

    @keel.pipeline
    def p() -> Any:
        return double(3), now()

    p.run(store=sqlite_store)
    second = p.run(store=sqlite_store)
    assert statuses(second) == {"double": "cached", "now": "ran"}
    assert second.steps["now"].reason == "step has cache=False"
    forced = p.run(store=sqlite_store, cache=False)
    assert statuses(forced) == {"double": "ran", "now": "ran"}


def test_runs_are_recorded_as_parent_and_child_tracking_runs(
    sqlite_store: Store, tmp_path: Path
) -> None:
    flow = write_flow(tmp_path)
    first = flow.run(store=sqlite_store, experiment="nightly")
    cached = flow.run(store=sqlite_store, experiment="nightly")
    parent = sqlite_store.runs.get(cached.run_id)
    assert parent.tags["keel.pipeline"] == "flow" and parent.params["scale"] == "1.0"
    children = {
        c.name: sqlite_store.runs.get(c.id) for c in sqlite_store.runs.children(cached.run_id)
    }
    assert set(children) == {"make", "shift", "count", "total"}
    shift = children["shift"]
    assert shift.tags["keel.step.status"] == "cached"
    assert shift.tags["keel.step.cached_from"] == first.steps["shift"].run_id
    assert shift.tags["keel.step.inputs"] == "make"
    assert shift.info.status is RunStatus.FINISHED and shift.info.end_time is not None
    ran_child = sqlite_store.runs.get(first.steps["total"].run_id or "")
    assert ran_child.params["scale"] == "1.0"
    listed = sqlite_store.pipeline_runs.list(sqlite_store.projects.get("default").id)
    assert [r.id for r in listed] == [cached.run_id, first.run_id]
    assert listed[0].n_cached == 4


def test_dataset_version_inputs_are_fingerprinted_and_linked(sqlite_store: Store) -> None:
    project = sqlite_store.projects.get_or_create("default")
    ds = sqlite_store.datasets.get_or_create(project.id, "customers")

    def add_version(content: str) -> None:
        sqlite_store.datasets.add_version(
            ds,
            content_hash=content * 64,
            kind="table",
            source={},
            schema=[],
            profile={},
            num_rows=1,
            files=[DatasetFile("a.csv", content * 64, 1)],
        )

    add_version("a")

    @keel.step
    def rows(version: Any) -> int:
        return int(version.num_rows) + version.version

    @keel.pipeline
    def p() -> Any:
        return rows(keel.pipelines.dataset_version("customers"))

    first = p.run(store=sqlite_store)
    assert first.value() == 2
    links = sqlite_store.runs.dataset_links(first.steps["rows"].run_id or "")
    assert links == [(sqlite_store.datasets.get_version(project.id, "customers").id, "input")]
    assert sqlite_store.runs.dataset_links(first.run_id) == links
    assert p.run(store=sqlite_store).all_cached
    add_version("b")
    assert statuses(p.run(store=sqlite_store)) == {"rows": "ran"}


def test_a_dataset_version_of_a_missing_project_creates_nothing(sqlite_store: Store) -> None:
    missing = pytest.raises(NotFoundError, match="project 'typo' does not exist")
    with keel.pipelines.using_store(sqlite_store, "typo"), missing:
        keel.pipelines.dataset_version("customers")
    assert "typo" not in [p.name for p in sqlite_store.projects.list()]


def test_dataframe_and_array_values_as_pipeline_parameters(sqlite_store: Store) -> None:
    @keel.step
    def summed(df: pd.DataFrame, arr: np.ndarray) -> float:
        return float(df["v"].sum() + arr.sum())

    @keel.pipeline
    def p(df: pd.DataFrame, arr: np.ndarray) -> Any:
        return summed(df, arr)

    frame = pd.DataFrame({"v": [1.0, 2.0]})
    array = np.ones(3)
    assert p.run({"df": frame, "arr": array}, store=sqlite_store).value() == 6.0
    assert p.run({"df": frame.copy(), "arr": array.copy()}, store=sqlite_store).all_cached
    frame.loc[0, "v"] = 5.0
    assert statuses(p.run({"df": frame, "arr": array}, store=sqlite_store)) == {"summed": "ran"}


def test_calling_the_pipeline_inside_isolated_store_returns_real_values() -> None:
    from keel.pipelines.testing import isolated_store

    with isolated_store() as store:
        assert resumable(marker="/nonexistent/marker", n=4) == 51
        runs = store.pipeline_runs.list(store.projects.get("default").id)
        assert len(runs) == 1 and runs[0].pipeline == "resumable"


def test_folder_fingerprint_does_not_reread_unchanged_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from keel.data import _files
    from keel.pipelines import _filehash

    folder = tmp_path / "images"
    (folder / "sub").mkdir(parents=True)
    for i in range(50):
        (folder / ("sub" if i % 2 else "") / f"f{i}.bin").write_bytes(os.urandom(64))
    hasher = _filehash.StatCacheHasher.for_cache_dir(tmp_path / "cache", racy_window_ns=0)
    first = hasher.hash_folder(folder)
    reads: list[str] = []
    real = _files.hash_file

    def counted(p: str, size: int) -> str:
        reads.append(str(p))
        return real(p, size)

    monkeypatch.setattr(_files, "hash_file", counted)
    assert hasher.hash_folder(folder) == first and reads == []
    (folder / "f0.bin").write_bytes(b"changed")
    assert hasher.hash_folder(folder) != first
    assert reads == [str(folder / "f0.bin")]
    hasher.close()


def test_garbage_collection_keeps_cached_outputs_until_the_cache_is_cleared(
    sqlite_store: Store, tmp_path: Path
) -> None:
    from keel.store import collect_garbage

    flow = write_flow(tmp_path)
    flow.run(store=sqlite_store)
    project = sqlite_store.projects.get("default")
    entry = sqlite_store.step_cache.latest_for_step(project.id, "make")
    assert entry is not None
    collect_garbage(sqlite_store.db, sqlite_store.blobs, grace_s=0)
    assert all(sqlite_store.blobs.exists(sha) for sha in entry.blob_shas)
    assert sqlite_store.step_cache.clear(project.id, step="make") == 1
    collect_garbage(sqlite_store.db, sqlite_store.blobs, grace_s=0)
    assert not sqlite_store.blobs.exists(entry.blob_shas[0])
    assert flow.run(store=sqlite_store).steps["make"].status is StepStatus.RAN
