"""The whole loop a team walks, with real processes and the real command line:

dataset v1 -> its exploration report (ranked against the target) -> pipeline (prepare / train with
log_metric + log_model(registered_model_name) / evaluate) -> promote champion, a weaker run as
challenger -> ``keel serve`` the champion with the challenger in shadow -> drifted traffic and late
labels -> ``keel monitor run`` raises a drift alert -> the alert trigger runs the retraining
pipeline on dataset v2 in a running ``keel scheduler`` -> a new version with lineage to v2 becomes
the challenger (the server follows the alias) -> ``keel monitor compare`` champion vs challenger on
the same traffic -> promote it while requests are in flight: every request is answered, each client
sees the old version then the new one -> ``keel models reproduce`` of it matches (at v2, though v3
exists by then) and registers nothing -> ``keel automl`` on the newest data registers a signed
winner that ``keel predict`` reads under the default trust policy.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import yaml

from keel.config import Settings
from keel.models import Registry
from keel.store import RunStatus, Store, open_store

FLOW = """\
import keel
import pandas as pd
from keel.pipelines import dataset_version
from sklearn.linear_model import LogisticRegression


@keel.step
def prepare(version) -> pd.DataFrame:
    frame = keel.load_dataset(f"{version.dataset_name}@{version.version}")
    keel.log_metric("rows", len(frame))
    return frame


@keel.step
def train(frame: pd.DataFrame, c: float) -> str:
    X, y = frame.drop(columns="target"), frame["target"]
    model = LogisticRegression(C=c, max_iter=2000).fit(X, y)
    keel.log_metric("train_accuracy", model.score(X, y))
    info = keel.log_model(
        model, input_example=X.head(3), registered_model_name="churn", onnx=False
    )
    return info.version.ref if info.version is not None else "not registered"


@keel.step
def evaluate(frame: pd.DataFrame, ref: str) -> float:
    keel.log_metric("eval_rows", len(frame))
    return float(len(frame))


@keel.pipeline
def training(c: float = 0.5):
    frame = prepare(dataset_version("customers"))
    return evaluate(frame, train(frame, c))
"""

LOG_DATA = """\
import sys
import keel
from sklearn.datasets import load_breast_cancer

raw = load_breast_cancer(as_frame=True)
frame = raw.data.iloc[:, :6].rename(columns=lambda c: c.replace(" ", "_"))
frame["target"] = raw.target
start, stop = int(sys.argv[1]), int(sys.argv[2])
keel.log_dataset("customers", frame.iloc[start:stop].reset_index(drop=True))
"""


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "project"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "t@example.com")
    _git(repo, "config", "user.name", "t")
    (repo / "flow.py").write_text(FLOW)
    (repo / "log_data.py").write_text(LOG_DATA)
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "training pipeline")
    return repo


def _sh(repo: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KEEL_HOME": str(home), "COLUMNS": "200"}
    out = subprocess.run(
        [sys.executable, *args], cwd=repo, env=env, capture_output=True, text=True, timeout=900
    )
    assert out.returncode == 0, f"{args}:\n{out.stdout}\n{out.stderr}"
    return out


def _keel(repo: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _sh(repo, home, "-m", "keel.cli", *args)


def _open(home: Path) -> Store:
    return open_store(Settings.for_home(home))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(check: Callable[[], Any], what: str, timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s} s")
        time.sleep(0.2)


def _customers() -> Any:
    """The rows LOG_DATA logs, for building traffic (the same columns, in the same order)."""
    from sklearn.datasets import load_breast_cancer

    raw = load_breast_cancer(as_frame=True)
    frame = raw.data.iloc[:, :6].rename(columns=lambda c: c.replace(" ", "_"))
    frame["target"] = raw.target
    return frame


#: A new scanner over-reads textures and areas: traffic unlike the training data.
DRIFT = {"mean_texture": 1.6, "mean_area": 1.5, "mean_perimeter": 1.2}

DEPLOY = {
    "name": "churn",
    "endpoints": [
        {
            "name": "churn",
            "versions": [
                {"model": "churn@champion"},
                {"model": "churn@challenger", "shadow": True},
            ],
        }
    ],
    "log": {"flush_s": 0.3},
    "poll_s": 0.3,
}


class Server:
    """A real ``keel serve -f deploy.yaml`` process."""

    def __init__(self, repo: Path, home: Path) -> None:
        (repo / "deploy.yaml").write_text(yaml.safe_dump(DEPLOY))
        self.url = f"http://127.0.0.1:{_free_port()}"
        env = {**os.environ, "KEEL_HOME": str(home), "PYTHONWARNINGS": "ignore"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "keel.cli", "serve", "-f", "deploy.yaml",
             "-p", self.url.rsplit(":", 1)[1]],
            cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.http = httpx.Client(base_url=self.url, timeout=30)
        _wait_for(self._ready, "keel serve ready", timeout_s=90)

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(
                f"keel serve exited:\n{self.proc.stdout and self.proc.stdout.read()}"
            )
        try:
            return self.http.get("/v2/health/ready").status_code == 200
        except httpx.TransportError:
            return False

    def versions(self) -> dict[str, str]:
        """{"answers": version, "shadow": version} as the server has them loaded now."""
        models = self.http.get("/models").json()["models"]
        return {("shadow" if m["shadow"] else "answers"): m["version"] for m in models}

    def predict(self, rows: Any, ids: list[str]) -> list[str]:
        """One request per row with our own request ids; the versions that answered."""
        answered = []
        for rid, record in zip(ids, rows.to_dict("records"), strict=True):
            r = self.http.post(
                "/models/churn/predict", json=[record], headers={"x-request-id": rid}
            )
            assert r.status_code == 200, r.text
            answered.append(r.headers["x-keel-model-version"])
        return answered

    def stop(self) -> None:
        self.http.close()
        self.proc.terminate()
        self.proc.wait(timeout=30)


@pytest.fixture
def serving(repo: Path, tmp_path: Path) -> Iterator[Callable[[], Server]]:
    started: list[Server] = []

    def start() -> Server:
        started.append(Server(repo, tmp_path / "keel-home"))
        return started[-1]

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.stop()


def _logged(home: Path, version: str, ids: list[str]) -> bool:
    """Whether the prediction log (flushed by the running server) has these requests."""
    from keel.monitoring import run_sql

    store = _open(home)
    try:
        pid = store.projects.get_or_create("default").id
        quoted = ", ".join(f"'{i}'" for i in ids)
        table = run_sql(
            store, pid,
            f"SELECT count(DISTINCT request_id) AS n FROM predictions WHERE version = '{version}' "
            f"AND request_id IN ({quoted})",
        )  # fmt: skip
        return int(table.to_pylist()[0]["n"]) == len(ids)
    finally:
        store.close()


def _labels(repo: Path, name: str, ids: list[str], truth: Any) -> str:
    path = repo / name
    path.write_text(
        "request_id,label\n" + "".join(f"{i},{int(t)}\n" for i, t in zip(ids, truth, strict=True))
    )
    return name


def _promote_under_load(server: Server, home: Path, repo: Path, rows: Any) -> list[list[str]]:
    """Four clients send requests back to back while `keel models promote` moves the alias;
    each returns the versions that answered it, in order."""
    stop = threading.Event()
    seen: list[list[str]] = [[] for _ in range(4)]
    errors: list[str] = []
    records = rows.to_dict("records")

    def client(k: int) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            i = 0
            while not stop.is_set() or not seen[k] or seen[k][-1] == "churn/1":
                try:
                    r = http.post("/models/churn/predict", json=[records[i % len(records)]])
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))
                    return
                if r.status_code != 200:
                    errors.append(f"{r.status_code}: {r.text}")
                    return
                seen[k].append(r.headers["x-keel-model-version"])
                i += 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    try:
        _wait_for(lambda: all(len(s) >= 5 for s in seen) or errors, "clients started")
        _keel(repo, home, "models", "promote", "churn@3", "champion")
        _wait_for(lambda: server.versions()["answers"] == "3" or errors, "alias followed")
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not errors, errors
    return seen


# ~25 real processes (CLI, keel serve, scheduler, pipeline runs): ~3 min idle, more when loaded
@pytest.mark.timeout(900)
def test_the_lifecycle_from_data_to_a_reproduced_retrained_model(
    repo: Path, tmp_path: Path, serving: Callable[[], Server]
) -> None:
    home = tmp_path / "keel-home"

    # 1. Dataset v1, the training pipeline, a champion; a weaker run becomes the challenger.
    _sh(repo, home, "log_data.py", "0", "300")
    # Look at the data before training on it: an exploration report ranked against the target.
    report = tmp_path / "explore-customers.html"
    explored = _keel(
        repo, home, "datasets", "explore", "customers@1", "--target", "target",
        "--out", str(report), "--json",
    )  # fmt: skip
    summary = json.loads(explored.stdout)["summary"]
    assert summary["rows"] == 300 and summary["target"]["ranking"][0]["value"] > 0.3
    assert report.stat().st_size < 5_000_000 and "<script" not in report.read_text()
    first = json.loads(_keel(repo, home, "pipeline", "run", "flow.py:training", "--json").stdout)
    assert first["status"] == "FINISHED"
    _keel(repo, home, "models", "promote", "churn@1", "champion")
    weak = _keel(repo, home, "pipeline", "run", "flow.py:training", "-p", "c=0.001", "--json")
    assert json.loads(weak.stdout)["status"] == "FINISHED"
    _keel(repo, home, "models", "promote", "churn@2", "challenger")
    store = _open(home)
    try:
        registry = Registry(store)
        v1 = registry.resolve("churn@champion")
        assert v1.version == 1
        assert v1.lineage["pipeline"]["run_id"] == first["run_id"]
        assert v1.lineage["pipeline"]["step"] == "train"
        assert [(d["name"], d["version"]) for d in v1.lineage["datasets"]] == [("customers", 1)]
        pipeline_run = store.runs.get(first["run_id"])
        assert pipeline_run.metrics["prepare.rows"] == 300
        assert "train.train_accuracy" in pipeline_run.metrics
        assert pipeline_run.metrics["evaluate.eval_rows"] == 300
    finally:
        store.close()

    # 2. Serve the champion with the challenger in shadow; watch it against v1's training data.
    _keel(repo, home, "monitor", "reference", "-m", "churn/1")
    _keel(
        repo, home, "monitor", "set", "churn", "-r", "model:churn/1", "--window", "1h",
        "--prediction", "predictions", "--positive", "1", "--metric", "accuracy",
        "--min-labels", "50",
    )  # fmt: skip
    server = serving()
    assert server.versions() == {"answers": "1", "shadow": "2"}

    # 3. Drifted traffic, then its labels arrive late; the monitor raises a drift alert.
    customers = _customers()
    unseen = customers.iloc[300:].sample(150, random_state=3)
    drifted = unseen.drop(columns="target")
    for column, factor in DRIFT.items():
        drifted[column] = drifted[column] * factor
    ids = [f"drift-{i:03d}" for i in range(len(drifted))]
    assert set(server.predict(drifted, ids)) == {"churn/1"}
    _wait_for(lambda: _logged(home, "1", ids) and _logged(home, "2", ids), "prediction log")
    _keel(repo, home, "feedback", "import", "churn", _labels(repo, "late.csv", ids, unseen.target))
    _keel(
        repo, home, "schedule", "add", "retrain", "--pipeline", "flow.py:training",
        "--on", "alert:churn/drift",
    )  # fmt: skip
    _sh(repo, home, "log_data.py", "0", "569")  # dataset v2: what the retraining will read
    monitored = json.loads(_keel(repo, home, "monitor", "run", "churn", "--json").stdout)
    assert monitored[0]["rows"] == len(ids)
    store = _open(home)
    try:
        pid = store.projects.get_or_create("default").id
        assert store.alerts.latest_id(pid, deployment="churn", kind="drift") is not None
    finally:
        store.close()

    # 4. The alert fires the retraining pipeline in a running scheduler.
    env = {**os.environ, "KEEL_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "keel.cli", "scheduler", "--interval", "0.5"],
        cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:

        def fired() -> Any:
            s = _open(home)
            try:
                fires = s.schedules.fires(s.schedules.list()[0].id)
                ended = fires and fires[0].status not in ("claimed", "running")
                return fires[0] if ended else None
            finally:
                s.close()

        fire = _wait_for(fired, "the alert trigger's pipeline run", timeout_s=240)
    finally:
        scheduler.terminate()
        out, _ = scheduler.communicate(timeout=30)
    assert "fired 'retrain' for alert:churn/drift#" in out, out
    assert fire.status == "finished", fire.error
    store = _open(home)
    try:
        v3 = Registry(store).resolve("churn@3")
        assert v3.lineage["pipeline"]["run_id"] == fire.pipeline_run_id
        assert [(d["name"], d["version"]) for d in v3.lineage["datasets"]] == [("customers", 2)]
        retrain = store.runs.get(str(fire.pipeline_run_id))
        assert retrain.tags["keel.schedule"] == "retrain"
        assert retrain.status is RunStatus.FINISHED
        assert retrain.metrics["prepare.rows"] == 569
    finally:
        store.close()

    # 5. The new version becomes the challenger: the running server follows the alias, and
    #    both versions answer the same labelled traffic for the comparison.
    _keel(repo, home, "models", "promote", "churn@3", "challenger")
    _wait_for(lambda: server.versions() == {"answers": "1", "shadow": "3"}, "shadow moved")
    fresh = customers.sample(200, random_state=5)
    ids = [f"ab-{i:03d}" for i in range(len(fresh))]
    assert set(server.predict(fresh.drop(columns="target"), ids)) == {"churn/1"}
    _wait_for(lambda: _logged(home, "1", ids) and _logged(home, "3", ids), "prediction log")
    _keel(repo, home, "feedback", "import", "churn", _labels(repo, "ab.csv", ids, fresh.target))
    compare = ("monitor", "compare", "churn", "--champion", "1", "--challenger", "3")
    compared = json.loads(_keel(repo, home, *compare, "--window", "1h", "--json").stdout)
    assert compared["mode"] == "shadow"
    assert compared["champion"]["version"] == "1" and compared["challenger"]["version"] == "3"
    assert compared["common_rows"] >= len(ids)
    assert compared["challenger"]["labelled"] >= len(ids)
    assert compared["recommendation"] in {"promote", "keep_champion", "inconclusive"}

    # 6. Promote while requests are in flight: none is dropped, and each client sees the old
    #    version, then only the new one (the routing table is swapped in one assignment).
    seen = _promote_under_load(server, home, repo, fresh.drop(columns="target"))
    for versions in seen:
        assert versions[0] == "churn/1" and versions[-1] == "churn/3", versions
        switch = versions.index("churn/3")
        assert set(versions[switch:]) == {"churn/3"}, versions
    assert server.versions()["answers"] == "3"
    server.stop()

    # 7. Reproduce the retrained model: at dataset v2, although v3 exists by now.
    _sh(repo, home, "log_data.py", "100", "400")
    reproduced = _keel(repo, home, "models", "reproduce", "churn@3")
    assert "churn@3: reproduced" in reproduced.stdout, reproduced.stdout
    assert "nothing registered" in reproduced.stdout
    store = _open(home)
    try:
        assert [v.version for v in Registry(store).versions("churn")] == [1, 2, 3]
    finally:
        store.close()

    # 8. AutoML on the newest data version: every candidate a child run, the winner (LightGBM
    #    members kept as model text) registered signed with its card, and batch-predicted
    #    under the default trust policy like any model.
    found = _keel(
        repo, home, "automl", "--data", "customers@3", "--target", "target", "--budget", "20s",
        "--family", "linear", "--family", "lightgbm", "--name", "churn-automl", "--json",
    )  # fmt: skip
    result = json.loads(found.stdout)
    assert result["registered"] == "churn-automl@1" and result["data"] == "customers@3"
    assert result["leaderboard"] and result["test_score"] > 0.5
    fresh.drop(columns="target").to_parquet(repo / "automl-in.parquet")
    _keel(
        repo, home, "predict", "churn-automl@1", "--input", "automl-in.parquet", "-o", "p.parquet"
    )
    store = _open(home)
    try:
        winner = Registry(store).resolve("churn-automl@1")
        assert winner.signer and winner.card["automl"]["data"] == "customers@3"
        parent = store.runs.get(result["parent_run_id"])
        assert parent.tags["keel.automl"] == "parent"
    finally:
        store.close()
    assert len(pd.read_parquet(repo / "p.parquet")) == len(fresh)
