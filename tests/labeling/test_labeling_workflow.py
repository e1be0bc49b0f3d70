"""The labeling use cases end to end on the embedded store and through ``keel label``: a real
Label Studio export round-trips, bad answers and bad files store nothing, production
samples keep their request ids and flow back as feedback, labels export as a dataset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keel import labeling
from keel.exceptions import InvalidArgumentError, NotFoundError
from keel.store import Store
from keel.store.predlog import write_predictions

DATA = Path(__file__).with_name("data")
SENTIMENT = {"kind": "classification", "labels": ["negative", "positive"], "field": "text"}


def test_label_studio_export_round_trips(sqlite_store: Store, tmp_path: Path) -> None:
    store = sqlite_store
    pid = store.projects.get_or_create("default").id
    labeling.create_project(store, pid, "ls", SENTIMENT, overlap=2)
    got = labeling.import_tasks(store, pid, "ls", DATA / "labelstudio_export.json")
    assert (got.tasks, got.annotations, got.cancelled) == (2, 3, 1)
    answers = store.labeling.annotations(pid, "ls")
    assert [(a.annotator, a.result, a.lead_ms) for a in answers] == [
        ("ls-user-3", {"label": "negative"}, 6520),
        ("lee@example.com", {"label": "negative"}, 3100),
        ("ls-user-3", {"label": "positive"}, 2000),
    ]
    exported = labeling.export_labelstudio(store, pid, "ls")
    original = json.loads((DATA / "labelstudio_export.json").read_text())
    assert [t["data"] for t in exported] == [t["data"] for t in original]
    first = exported[0]["annotations"][0]
    assert first["result"][0]["type"] == "choices"
    assert first["result"][0]["value"] == {"choices": ["negative"]}
    assert {"id", "completed_by", "created_at", "lead_time", "was_cancelled"} <= set(first)
    # and back: keel's own export imports into a fresh project with the same answers
    path = tmp_path / "again.json"
    path.write_text(json.dumps(exported))
    labeling.create_project(store, pid, "again", SENTIMENT, overlap=2)
    labeling.import_tasks(store, pid, "again", path)
    again = store.labeling.annotations(pid, "again")
    assert [(a.annotator, a.result) for a in again] == [(a.annotator, a.result) for a in answers]
    xml = labeling.config_xml(labeling.parse_config(SENTIMENT))
    assert '<Choices name="label" toName="text" choice="single">' in xml


def test_bad_input_stores_nothing(sqlite_store: Store, tmp_path: Path) -> None:
    store = sqlite_store
    pid = store.projects.get_or_create("default").id
    labeling.create_project(store, pid, "ner", {"kind": "spans", "labels": ["PER"]})
    [task_id] = store.labeling.add_tasks(pid, "ner", [labeling_task("Ada met Charles")])
    with pytest.raises(InvalidArgumentError, match="outside the text"):
        labeling.submit(
            store, pid, "ner", task_id, "ann", {"spans": [{"start": 4, "end": 99, "label": "PER"}]}
        )
    with pytest.raises(InvalidArgumentError, match="unknown label 'ORG'"):
        labeling.submit(
            store, pid, "ner", task_id, "ann", {"spans": [{"start": 0, "end": 3, "label": "ORG"}]}
        )
    assert store.labeling.annotations(pid, "ner") == []
    bad = [{"data": {"text": "x"}, "annotations": [{"result": [
        {"type": "labels", "value": {"start": 0, "end": 5, "labels": ["PER"]}}]}]}]  # fmt: skip
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(InvalidArgumentError, match="task 0 annotation 0: span 0"):
        labeling.import_tasks(store, pid, "ner", path)
    assert store.labeling.progress(pid, "ner").tasks == 1  # the bad file added nothing
    span = {"type": "labels", "value": {"start": 0, "end": 3, "labels": ["PER"]}}
    twice = [{"data": {"text": "Ada"}, "annotations": [
        {"completed_by": 1, "result": [span]}, {"completed_by": 1, "result": [span]}]}]  # fmt: skip
    with pytest.raises(InvalidArgumentError, match="task 0 has two annotations by 'ls-user-1'"):
        labeling.import_tasks(store, pid, "ner", twice)
    assert store.labeling.progress(pid, "ner").tasks == 1
    with pytest.raises(NotFoundError, match=r"task source .*gone.json' does not exist"):
        labeling.import_tasks(store, pid, "ner", tmp_path / "gone.json")


def labeling_task(text: str):  # type: ignore[no-untyped-def]
    from keel.store.labeling import NewTask

    return NewTask({"text": text})


def test_production_samples_flow_back_as_feedback(sqlite_store: Store) -> None:
    store = sqlite_store
    pid = store.projects.get_or_create("default").id
    ids = [f"req-{i}" for i in range(10)]
    write_predictions(
        store.settings,
        "churn",
        {"tenure": list(range(10))},
        {"prediction": ["stay"] * 10, "probability": [0.5 + i / 20 for i in range(10)]},
        request_ids=ids,
    )
    labeling.create_project(
        store, pid, "churn", {"kind": "classification", "labels": ["stay", "leave"]}, overlap=2
    )
    with pytest.raises(NotFoundError, match="'nope' has no logged predictions"):
        labeling.sample(store, pid, "churn", "nope", n=3)
    low = labeling.sample(store, pid, "churn", "churn", strategy="lowest-confidence", n=3)
    tasks = [store.labeling.get_task(pid, "churn", t) for t in low]
    assert [t.request_id for t in tasks] == ["req-0", "req-1", "req-2"]  # least sure first
    assert tasks[0].data["tenure"] == 0 and tasks[0].data["model_output"]["prediction"] == "stay"
    more = labeling.sample(store, pid, "churn", "churn", strategy="random", n=20, seed=1)
    assert len(more) == 7  # only the ones not sampled yet
    for who, label in (("ann", "leave"), ("bob", "leave")):
        labeling.submit(store, pid, "churn", low[0], who, {"label": label})
    labeling.submit(store, pid, "churn", low[1], "ann", {"label": "stay"})
    records = labeling.feedback_labels(store, pid, "churn")
    assert records == [
        {"request_id": "req-0", "row": 0, "label": "leave"},
        {"request_id": "req-1", "row": 0, "label": "stay"},
    ]
    from keel.monitoring import record_feedback

    result = record_feedback(store.settings, "churn", records, source="label:churn")
    assert (result.stored, result.unknown) == (2, 0)


def test_keel_label_cli(run_keel) -> None:  # type: ignore[no-untyped-def]
    run_keel("label", "create", "reviews", "--labels", "negative,positive", "--overlap", "2")
    out = json.loads(
        run_keel(
            "label", "import", "reviews", str(DATA / "labelstudio_export.json"), "--json"
        ).stdout
    )
    assert (out["tasks"], out["annotations"]) == (2, 3)
    status = json.loads(run_keel("label", "status", "reviews", "--json").stdout)
    assert status["progress"]["annotations"] == 3 and status["progress"]["complete"] == 1
    assert status["agreement"]["pairs"][0]["percent"] == 1.0
    missing = run_keel("label", "status", "nope", check=False)
    assert missing.returncode == 3 and "'nope' does not exist" in missing.stderr
    version = json.loads(
        run_keel(
            "label", "export", "reviews", "--format", "dataset", "--dataset", "rv", "--json"
        ).stdout
    )
    assert version["num_rows"] == 2
    rows = json.loads(run_keel("label", "export", "reviews", "--format", "labels").stdout)
    assert [(r["label"], r["annotators"]) for r in rows] == [
        ("negative", "lee@example.com,ls-user-3"),
        ("positive", "ls-user-3"),
    ]


def test_low_agreement_raises_and_clears_an_alert(sqlite_store: Store) -> None:
    from keel.store.labeling import NewTask

    store = sqlite_store
    pid = store.projects.get_or_create("default").id
    labeling.create_project(
        store, pid, "pets", {"kind": "classification", "labels": ["a", "b"]}, overlap=2
    )
    ids = store.labeling.add_tasks(pid, "pets", [NewTask({"text": str(i)}) for i in range(12)])
    for i, task_id in enumerate(ids[:10]):
        labeling.submit(store, pid, "pets", task_id, "ann", {"label": "a" if i % 2 else "b"})
        labeling.submit(store, pid, "pets", task_id, "bob", {"label": "a" if i % 3 else "b"})
    low = labeling.check_agreement(store, pid, "pets", floor=0.6, min_tasks=10)
    assert (low.ok, low.event) == (False, "opened") and low.alpha is not None and low.alpha < 0.6
    alert = store.alerts.get(pid, low.alert_id)  # type: ignore[arg-type]
    assert alert.kind == "labeling" and alert.evidence["tasks"] == 10
    assert labeling.check_agreement(store, pid, "pets", floor=0.6).event == "repeated"
    assert labeling.check_agreement(store, pid, "pets", floor=-1.0).event == "resolved"
    assert store.alerts.get(pid, alert.id).state.value == "resolved"


def test_folder_and_dataset_sources(sqlite_store: Store, tmp_path: Path) -> None:
    import pyarrow as pa
    from PIL import Image

    from keel.data import DatasetClient

    store = sqlite_store
    project = store.projects.get_or_create("default")
    pid = project.id
    folder = tmp_path / "inbox"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("Ada met Babbage", encoding="utf-8")
    (folder / "sub" / "b.md").write_text("Grace wrote COBOL", encoding="utf-8")
    (folder / "notes.bin").write_bytes(b"\x00\x01")  # neither text nor image: left out
    Image.new("RGB", (64, 32), "red").save(folder / "car.png")
    labeling.create_project(store, pid, "ner", {"kind": "spans", "labels": ["PER"]})
    got = labeling.import_tasks(store, pid, "ner", str(folder))
    assert got.tasks == 3
    tasks = {t.data["file"]: t for t in labeling.iter_tasks(store, pid, "ner")}
    assert tasks["sub/b.md"].data["text"] == "Grace wrote COBOL"
    assert tasks["sub/b.md"].source_ref == f"folder:{folder}/sub/b.md"
    image = tasks["car.png"].data
    assert (image["width"], image["height"]) == (64, 32)
    assert image["image"].startswith("data:image/png;base64,")
    # a box on the imported image is checked against its size
    labeling.create_project(store, pid, "cars", {"kind": "boxes", "labels": ["car"]})
    labeling.import_tasks(store, pid, "cars", folder / "..")  # the parent folder, resolved
    [car] = [t for t in labeling.iter_tasks(store, pid, "cars") if "width" in t.data]
    with pytest.raises(InvalidArgumentError, match="outside the 64x32 image"):
        labeling.submit(store, pid, "cars", car.id, "ann", {"boxes": [
            {"x": 40, "y": 0, "width": 30, "height": 10, "label": "car"}]})  # fmt: skip
    # a table dataset version: one task per row; a files version: one per text/image file
    data = DatasetClient(store, project)
    data.log("reviews", pa.table({"text": ["good", "bad"], "stars": [5, 1]}))
    data.log("reviews", pa.table({"text": ["meh"], "stars": [3]}))
    labeling.create_project(store, pid, "sent", {"kind": "classification", "labels": ["pos"]})
    assert labeling.import_tasks(store, pid, "sent", "dataset:reviews@1").tasks == 2
    assert labeling.import_tasks(store, pid, "sent", "dataset:reviews").tasks == 1
    rows = [(t.data, t.source_ref) for t in labeling.iter_tasks(store, pid, "sent")]
    assert rows[0] == ({"text": "good", "stars": 5}, "dataset:reviews@1#row=0")
    assert rows[2] == ({"text": "meh", "stars": 3}, "dataset:reviews@2#row=0")
    # the sources that are gone or hold nothing: one clear error, nothing stored
    with pytest.raises(NotFoundError, match="nope"):
        labeling.import_tasks(store, pid, "sent", "dataset:nope")
    with pytest.raises(InvalidArgumentError, match="dataset:NAME"):
        labeling.import_tasks(store, pid, "sent", "dataset:")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InvalidArgumentError, match="holds no text"):
        labeling.import_tasks(store, pid, "sent", empty)
    (empty / "big.png").write_bytes(b"\x89PNG" + b"\x00" * 2_000_000)
    with pytest.raises(InvalidArgumentError, match="over the 2,000,000 an image task holds"):
        labeling.import_tasks(store, pid, "sent", empty)
    (empty / "big.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(InvalidArgumentError, match=r"big\.png is not a readable image"):
        labeling.import_tasks(store, pid, "sent", empty)
    assert store.labeling.progress(pid, "sent").tasks == 3


def test_stratified_samples_reach_small_cohorts(sqlite_store: Store) -> None:
    store = sqlite_store
    pid = store.projects.get_or_create("default").id
    regions = ["eu"] * 95 + ["us"] * 5
    write_predictions(
        store.settings,
        "churn",
        {"region": regions, "tenure": list(range(100))},
        {"prediction": ["stay"] * 100},
        request_ids=[f"req-{i}" for i in range(100)],
    )
    labeling.create_project(store, pid, "churn", {"kind": "classification", "labels": ["stay"]})
    with pytest.raises(InvalidArgumentError, match="needs cohort columns"):
        labeling.sample(store, pid, "churn", "churn", strategy="stratified", n=10)
    with pytest.raises(InvalidArgumentError, match=r"no cohort column\(s\) \['plan'\]"):
        labeling.sample(store, pid, "churn", "churn", strategy="stratified", n=10, by=["plan"])
    # the monitor's cohorts are the default; a random sample of 10 would hold ~0.5 US rows
    store.monitors.upsert(pid, "churn", config={"cohorts": {"columns": [["region"]]}})
    ids = labeling.sample(store, pid, "churn", "churn", strategy="stratified", n=10, seed=3)
    got = [store.labeling.get_task(pid, "churn", t).data["region"] for t in ids]
    assert sorted(got) == ["eu"] * 5 + ["us"] * 5
    # numbers are cut into quartiles; the US rows are all taken, so the rest are EU
    ids = labeling.sample(
        store, pid, "churn", "churn", strategy="stratified", n=8, by=["region", "tenure"], seed=3
    )
    data = [store.labeling.get_task(pid, "churn", t).data for t in ids]
    assert {d["region"] for d in data} == {"eu"}
    assert sorted({min(d["tenure"] // 25, 3) for d in data}) == [0, 1, 2, 3]


def test_relabel_check_tracks_agreement_with_the_original_labels(sqlite_store: Store) -> None:
    store = sqlite_store
    pid = store.projects.get_or_create("default").id
    labeling.create_project(
        store, pid, "pets", {"kind": "classification", "labels": ["cat", "dog"]}
    )
    ids = store.labeling.add_tasks(pid, "pets", [labeling_task(f"pet {i}") for i in range(30)])
    for i, task_id in enumerate(ids[:24]):
        labeling.submit(store, pid, "pets", task_id, "ann", {"label": "cat" if i % 2 else "dog"})
    first = labeling.relabel_check(store, pid, "pets", n=10, floor=0.8, min_answers=5, seed=1)
    assert len(first.sent) == 10 and first.ok and first.event == ""
    copies = {t.id: t for t in labeling.iter_tasks(store, pid, "pets") if t.id in first.sent}
    originals = {int(t.source_ref.rpartition(":")[2]): t for t in copies.values()}
    assert set(originals) <= set(ids[:24])  # only labelled tasks go back
    assert all(c.data == store.labeling.get_task(pid, "pets", o).data for o, c in originals.items())
    # the copies are plain tasks in the queue (nothing marks them to annotators); bob answers,
    # agreeing on 6 of 10
    truth = {t: a.result["label"] for a in labeling.iter_annotations(store, pid, "pets")
             for t in [a.task_id]}  # fmt: skip
    for k, (orig, copy) in enumerate(sorted(originals.items())):
        flip = {"cat": "dog", "dog": "cat"}[truth[orig]]
        labeling.submit(
            store, pid, "pets", copy.id, "bob", {"label": truth[orig] if k < 6 else flip}
        )
    second = labeling.relabel_check(store, pid, "pets", n=10, floor=0.8, min_answers=5, seed=1)
    assert [(r.sent, r.answered, r.agreement) for r in second.rounds[:1]] == [(10, 10, 0.6)]
    assert not second.ok and second.event == "opened"
    [alert] = store.alerts.list(pid, state="live", kind="labeling")
    assert "60%" in alert.title and alert.evidence["agreement"] == 0.6
    assert set(second.sent).isdisjoint(first.sent) and len(second.sent) == 10
    new = [t for t in labeling.iter_tasks(store, pid, "pets") if t.id in second.sent]
    assert not {int(t.source_ref.rpartition(":")[2]) for t in new} & set(originals)
    # the next round agrees again: the alert resolves; copies stay out of the labels export
    for t in new:
        orig = int(t.source_ref.rpartition(":")[2])
        labeling.submit(store, pid, "pets", t.id, "bob", {"label": truth[orig]})
    third = labeling.relabel_check(store, pid, "pets", n=0, floor=0.8, min_answers=5)
    assert third.ok and third.event == "resolved" and third.sent == []
    assert [r.agreement for r in third.rounds] == [0.6, 1.0]
    assert store.alerts.list(pid, state="live", kind="labeling") == []
    assert {r["task_id"] for r in labeling.export_rows(store, pid, "pets")} == set(ids[:24])
    with pytest.raises(InvalidArgumentError, match=r"floor 1\.5"):
        labeling.relabel_check(store, pid, "pets", floor=1.5)
