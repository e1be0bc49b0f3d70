"""keel's labeling against the real peers, each in its own virtualenv (not keel's
dependencies): crowd-kit's Dawid-Skene gives the same labels as keel's on noisy crowds
(``KEEL_TEST_CROWDKIT_PYTHON``), and a running Label Studio server takes keel's labeling
config and exported tasks and gives back an export that keel imports to the same answers
(``KEEL_TEST_LABEL_STUDIO_PYTHON``, a virtualenv with ``label-studio``; the test starts the
server, or uses ``KEEL_TEST_LABEL_STUDIO_URL`` with ``KEEL_TEST_LABEL_STUDIO_TOKEN``, a legacy
API token). A peer harness like run_mlflow_tests.py, outside the test suite (the peers' own
virtualenvs are ~1.5 GB and Label Studio's first start takes minutes); run it on demand:

    KEEL_TEST_CROWDKIT_PYTHON=/path/ckvenv/bin/python \
    KEEL_TEST_LABEL_STUDIO_PYTHON=/path/lsvenv/bin/python \
        pytest -p no:cacheprovider -n 0 benchmarks/compat/test_labeling_peers.py

Set up: ``python -m venv ckvenv && ckvenv/bin/pip install crowd-kit`` and ``python -m venv
lsvenv && lsvenv/bin/pip install label-studio label-studio-sdk``."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from keel import labeling
from keel.config import Settings
from keel.store import Store, open_store
from keel.store.labeling import NewTask

HERE = Path(__file__).parent


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(Settings.for_home(tmp_path / "home"))
    yield store
    store.close()


def _peer(var: str) -> str:
    python = os.environ.get(var)
    if not python:
        pytest.skip(f"set {var} to a virtualenv's python with the peer installed")
    return python


CROWDKIT = """
import json, sys
import pandas as pd
from crowdkit.aggregation import DawidSkene
df = pd.DataFrame(json.load(sys.stdin), columns=["task", "worker", "label"])
out = DawidSkene(n_iter=200, tol=1e-7).fit_predict(df)
print(json.dumps({str(k): v for k, v in out.items()}))
"""


@pytest.mark.parametrize("seed", [0, 1])
def test_dawid_skene_matches_crowd_kit(seed: int) -> None:
    python = _peer("KEEL_TEST_CROWDKIT_PYTHON")
    rng = random.Random(seed)
    labels = ["a", "b", "c"]
    accuracy = {"good1": 0.9, "good2": 0.85, "ok": 0.7, "poor": 0.5, "spam": 0.0}
    triples = []
    for task in range(300):
        truth = rng.choice(labels)
        for worker, acc in accuracy.items():
            if rng.random() < 0.8:
                right = rng.random() < acc
                answer = "a" if worker == "spam" else truth if right else rng.choice(labels)
                triples.append((task, worker, answer))
    theirs = json.loads(
        subprocess.run(
            [python, "-c", CROWDKIT], input=json.dumps(triples), capture_output=True,
            text=True, check=True, timeout=300,
        ).stdout
    )  # fmt: skip
    ours = {str(a.task_id): a.label for a in labeling.dawid_skene(triples)}
    assert set(ours) == set(theirs)
    same = sum(ours[t] == theirs[t] for t in ours) / len(ours)
    assert same >= 0.99, f"keel and crowd-kit agree on {same:.1%} of tasks"


@pytest.fixture(scope="module")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    python = _peer("KEEL_TEST_LABEL_STUDIO_PYTHON")
    running = os.environ.get("KEEL_TEST_LABEL_STUDIO_URL")
    if running:  # a server already started (its first start migrates for minutes)
        yield python, running, os.environ["KEEL_TEST_LABEL_STUDIO_TOKEN"]
        return
    data = tmp_path_factory.mktemp("label-studio")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    token = "keeltesttoken0123456789abcdef0123456789"
    env = {**os.environ, "LABEL_STUDIO_USERNAME": "keel@example.com",
           "LABEL_STUDIO_PASSWORD": "keel-test-password", "LABEL_STUDIO_USER_TOKEN": token,
           "LABEL_STUDIO_BASE_DATA_DIR": str(data),
           "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true"}  # fmt: skip
    exe = str(Path(python).with_name("label-studio"))
    proc = subprocess.Popen(
        [exe, "start", "--no-browser", "--port", str(port), "--data-dir", str(data)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600  # migrations on first start take minutes
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=5) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None, "label-studio exited while starting"
            assert time.monotonic() < deadline, "label-studio did not start in 600 s"
            time.sleep(2)
        yield python, url, token
    finally:
        proc.terminate()
        proc.wait(timeout=30)


KINDS = {
    "classification": ({"kind": "classification", "labels": ["neg", "pos"]}, {"text": "fine"},
                       [{"label": "pos"}]),
    "spans": ({"kind": "spans", "labels": ["PER"]}, {"text": "Ada met Babbage"},
              [{"spans": [{"start": 0, "end": 3, "label": "PER"}]}]),
    "boxes": ({"kind": "boxes", "labels": ["car"]},
              {"image": "/data/a.png", "width": 200, "height": 100},
              [{"boxes": [{"x": 20, "y": 10, "width": 50, "height": 40, "label": "car"}]}]),
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_label_studio_server_round_trip(
    label_studio: tuple[str, str, str], sqlite_store: Store, tmp_path: Path, kind: str
) -> None:
    python, url, token = label_studio
    config, data, answers = KINDS[kind]
    pid = sqlite_store.projects.get_or_create("default").id
    labeling.create_project(sqlite_store, pid, "out", config)
    [task_id] = sqlite_store.labeling.add_tasks(pid, "out", [NewTask(data)])
    for i, answer in enumerate(answers):  # one each: Label Studio credits imports to one user
        labeling.submit(sqlite_store, pid, "out", task_id, f"ann{i}", answer)
    (tmp_path / "config.xml").write_text(
        labeling.config_xml(labeling.config_of(sqlite_store, pid, "out"))
    )
    (tmp_path / "tasks.json").write_text(
        json.dumps(labeling.export_labelstudio(sqlite_store, pid, "out"))
    )
    done = subprocess.run(
        [python, str(HERE / "ls_roundtrip.py"), url, token, str(tmp_path / "config.xml"),
         str(tmp_path / "tasks.json"), str(tmp_path / "back.json")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    labeling.create_project(sqlite_store, pid, "back", config)
    got = labeling.import_tasks(sqlite_store, pid, "back", tmp_path / "back.json")
    assert (got.tasks, got.annotations) == (1, len(answers))
    [task] = labeling.iter_tasks(sqlite_store, pid, "back")
    assert {k: task.data[k] for k in data} == data
    back = [a.result for a in labeling.iter_annotations(sqlite_store, pid, "back")]
    assert back == answers  # boxes come back as floats: 40.0 == 40
