"""The streamed Label Studio export (``write_labelstudio``, behind ``keel label export``) is
the same list as ``export_labelstudio`` for every label config kind, whatever the page size:
user ids keep counting across pages, non-ASCII and markup stay as they are (UTF-8), data
that orjson refuses still comes out, and a failed export to a file leaves no file."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from keel import labeling
from keel.store import Store
from keel.store.labeling import NewTask

TEXT = "Ada <b onclick='x()'>Lovelace</b> met Charles à Londres"
CASES: dict[str, tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]] = {
    "classification": (
        {"kind": "classification", "labels": ["neg", "pos"]},
        {"text": TEXT},
        [{"label": "pos"}, {"label": "neg"}],
    ),
    "multilabel": (
        {"kind": "multilabel", "labels": ["a", "b", "c"]},
        {"text": TEXT},
        [{"labels": ["a", "c"]}, {"labels": []}],
    ),
    "spans": (
        {"kind": "spans", "labels": ["PER", "LOC"]},
        {"text": TEXT},
        [
            {"spans": [{"start": 0, "end": 3, "label": "PER"}]},
            {"spans": [{"start": 48, "end": 55, "label": "LOC"}]},
        ],
    ),
    "boxes": (
        {"kind": "boxes", "labels": ["car"]},
        {"image": "/data/a.png", "width": 200, "height": 100},
        [{"boxes": [{"x": 20, "y": 10, "width": 50, "height": 40, "label": "car"}]}, {"boxes": []}],
    ),
    "text": ({"kind": "text"}, {"text": TEXT}, [{"text": "<i>fine</i> é"}, {"text": ""}]),
}


def _streamed(store: Store, pid: int, name: str, page: int) -> tuple[int, bytes]:
    buf = io.BytesIO()
    count = labeling.write_labelstudio(store, pid, name, buf, page=page)
    return count, buf.getvalue()


@pytest.mark.parametrize("kind", list(CASES))
def test_streamed_export_is_the_label_studio_export(sqlite_store: Store, kind: str) -> None:
    store = sqlite_store
    pid = store.projects.get_or_create("default").id
    config, data, answers = CASES[kind]
    labeling.create_project(store, pid, kind, config, overlap=3)
    tasks = [NewTask(data, source_ref=f"src:{i}", request_id=f"req-{i}") for i in range(5)]
    ids = store.labeling.add_tasks(pid, kind, tasks)
    # bob answers only the second task, so his user id is given on the second page of one
    who = {ids[0]: ["ann"], ids[1]: ["bob", "ann"], ids[2]: ["cid", "ann", "bob"], ids[3]: []}
    for n, task_id in enumerate(ids):
        for i, annotator in enumerate(who.get(task_id, ["ann"])):
            result = answers[(n + i) % len(answers)]
            labeling.submit(store, pid, kind, task_id, annotator, result, lead_ms=1000 + n)
    expected = labeling.export_labelstudio(store, pid, kind)
    assert [len(t["annotations"]) for t in expected] == [1, 2, 3, 0, 1]
    assert expected[1]["annotations"][0]["completed_by"] == 2  # bob, first seen there
    for page in (1, 2, 3, 10_000):
        count, raw = _streamed(store, pid, kind, page)
        assert count == 5
        assert json.loads(raw.decode("utf-8")) == expected, f"page size {page}"
    if "text" in data:  # UTF-8 as it is, not \u escapes; markup is data, not escaped here
        assert "à Londres".encode() in raw and b"<b onclick='x()'>" in raw


def test_streamed_export_of_nothing_and_of_big_numbers(sqlite_store: Store) -> None:
    store = sqlite_store
    pid = store.projects.get_or_create("default").id
    labeling.create_project(store, pid, "nums", {"kind": "classification", "labels": ["a"]})
    assert _streamed(store, pid, "nums", 10) == (0, b"[]")
    big = 2**70  # beyond orjson's 64 bits: the page is written by the standard library
    ids = store.labeling.add_tasks(pid, "nums", [NewTask({"text": "é", "n": big})])
    labeling.submit(store, pid, "nums", ids[0], "ann", {"label": "a"})
    count, raw = _streamed(store, pid, "nums", 10)
    got = json.loads(raw)
    assert count == 1 and got == labeling.export_labelstudio(store, pid, "nums")
    assert got[0]["data"]["n"] == big
    # more tasks than one encoded chunk (256): every one, in order, answers where they were
    more = store.labeling.add_tasks(pid, "nums", [NewTask({"text": str(i)}) for i in range(600)])
    for task_id, who in ((more[300], "bob"), (more[-1], "ann")):
        labeling.submit(store, pid, "nums", task_id, who, {"label": "a"})
    count, raw = _streamed(store, pid, "nums", 10_000)
    got = json.loads(raw)
    assert count == 601 and got == labeling.export_labelstudio(store, pid, "nums")
    assert [t["id"] for t in got] == ids + more
    assert [a["completed_by"] for t in got for a in t["annotations"]] == [1, 2, 1]


def test_keel_label_export_streams_to_stdout_and_files(run_keel, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = Path(__file__).with_name("data") / "labelstudio_export.json"
    run_keel("label", "create", "reviews", "--labels", "negative,positive", "--overlap", "2")
    run_keel("label", "import", "reviews", str(data))
    shown = json.loads(run_keel("label", "export", "reviews").stdout)
    assert [len(t["annotations"]) for t in shown] == [2, 1]
    assert shown[1]["data"]["text"].startswith("<script>")
    out = tmp_path / "out" / "ls.json"
    out.parent.mkdir()
    proc = run_keel("label", "export", "reviews", "-o", str(out))
    assert "Wrote 2 record(s)" in proc.stdout
    assert json.loads(out.read_text(encoding="utf-8")) == shown
    gone = run_keel("label", "export", "nope", "-o", str(out.with_name("no.json")), check=False)
    assert gone.returncode == 3 and "'nope' does not exist" in gone.stderr
    assert sorted(p.name for p in out.parent.iterdir()) == ["ls.json"]  # no half file
