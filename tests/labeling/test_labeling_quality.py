"""Label configs and answer checks, agreement against published values, aggregation (majority
vote and Dawid-Skene), and cleanlab's label-issue detection."""

from __future__ import annotations

import numpy as np
import pytest

from keel import labeling
from keel.exceptions import InvalidArgumentError

TEXT = {"text": "Ada Lovelace met Babbage"}
IMAGE = {"image": "a.png", "width": 100, "height": 50}


def _check(config: dict, data: dict, result: object) -> dict:
    return labeling.check_answer(config, data, result)


def test_configs_and_answers() -> None:
    cls = {"kind": "classification", "labels": ["cat", "dog"]}
    assert _check(cls, TEXT, {"label": "dog"}) == {"label": "dog"}
    with pytest.raises(InvalidArgumentError, match=r"unknown label 'cow'.*cat, dog"):
        _check(cls, TEXT, {"label": "cow"})
    multi = {"kind": "multilabel", "labels": ["a", "b", "c"]}
    assert _check(multi, TEXT, {"labels": ["c", "a", "c"]}) == {"labels": ["a", "c"]}
    ner = {"kind": "spans", "labels": ["PER"]}
    spans = {
        "spans": [{"start": 17, "end": 24, "label": "PER"}, {"start": 0, "end": 12, "label": "PER"}]
    }
    assert [s["start"] for s in _check(ner, TEXT, spans)["spans"]] == [0, 17]
    with pytest.raises(InvalidArgumentError, match=r"span 0 \[20, 30\) is outside the text \(0-24"):
        _check(ner, TEXT, {"spans": [{"start": 20, "end": 30, "label": "PER"}]})
    boxes = {"kind": "boxes", "labels": ["car"]}
    ok = {"boxes": [{"x": 10, "y": 5, "width": 20, "height": 10, "label": "car"}]}
    assert _check(boxes, IMAGE, ok)["boxes"][0]["width"] == 20.0
    with pytest.raises(InvalidArgumentError, match=r"box 0 .* is outside the 100x50 image"):
        _check(
            boxes, IMAGE, {"boxes": [{"x": 90, "y": 5, "width": 20, "height": 10, "label": "car"}]}
        )
    assert _check({"kind": "text"}, TEXT, {"text": "hi"}) == {"text": "hi"}
    with pytest.raises(InvalidArgumentError, match="kind 'poll' is not one of"):
        labeling.parse_config({"kind": "poll", "labels": ["a"]})
    with pytest.raises(InvalidArgumentError, match="repeats labels: \\['a'\\]"):
        labeling.parse_config({"kind": "classification", "labels": ["a", "a"]})
    with pytest.raises(InvalidArgumentError, match="needs 'label'"):
        _check(cls, TEXT, {"labels": ["cat"]})


def test_agreement_matches_published_values() -> None:
    # Fleiss (1971) as worked on Wikipedia: 10 subjects, 14 raters, 5 categories -> 0.210
    counts = [
        [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
    ]  # fmt: skip
    triples = []
    for task, row in enumerate(counts):
        votes = [str(cat) for cat, n in enumerate(row) for _ in range(n)]
        triples += [(task, f"r{i}", v) for i, v in enumerate(votes)]
    assert labeling.agreement(triples).fleiss_kappa == pytest.approx(0.210, abs=5e-4)
    # Krippendorff's reliability example (4 coders, 12 units, missing values): nominal 0.743
    coders = {
        "A": "1 2 3 3 2 1 4 1 2 . . .",
        "B": "1 2 3 3 2 2 4 1 2 5 . 3",
        "C": ". 3 3 3 2 3 4 2 2 5 1 .",
        "D": "1 2 3 3 2 4 4 1 2 5 1 .",
    }
    kt = [
        (unit, coder, v)
        for coder, row in coders.items()
        for unit, v in enumerate(row.split())
        if v != "."
    ]
    assert labeling.agreement(kt).krippendorff_alpha == pytest.approx(0.743, abs=5e-4)
    # Cohen by hand: p_o = 3/4, p_e = 1/2 -> 0.5
    pair = [(0, "a", "x"), (0, "b", "x"), (1, "a", "x"), (1, "b", "y")]
    pair += [(2, "a", "y"), (2, "b", "y"), (3, "a", "y"), (3, "b", "y")]
    result = labeling.agreement(pair, ["x", "y"])
    assert [(p.a, p.b, p.tasks, p.cohen_kappa, p.percent) for p in result.pairs] == [
        ("a", "b", 4, 0.5, 0.75)
    ]
    assert set(result.per_label) == {"x", "y"}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agreement_equals_the_reference_libraries(seed: int) -> None:
    # random answers with missing ones and uneven raters per task, against krippendorff's
    # package and scikit-learn's Cohen's kappa (the keel code is vectorised numpy)
    import krippendorff
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(seed)
    raters, labels = ["ann", "bob", "cy", "dee"], ["x", "y", "z"]
    truth = rng.integers(0, 3, 300)
    triples = [
        (t, r, labels[truth[t] if rng.random() < 0.7 else rng.integers(0, 3)])
        for t in range(300)
        for r in raters
        if rng.random() < 0.6
    ]
    got = labeling.agreement(triples, labels)
    matrix = np.full((len(raters), 300), np.nan)
    for t, r, v in triples:
        matrix[raters.index(r), t] = labels.index(v)
    pairable = matrix[:, (~np.isnan(matrix)).sum(axis=0) >= 2]
    expect = krippendorff.alpha(reliability_data=pairable, level_of_measurement="nominal")
    assert got.krippendorff_alpha == pytest.approx(expect, abs=1e-6)
    assert got.tasks == pairable.shape[1]
    for label in labels:
        binary = np.where(np.isnan(pairable), np.nan, pairable == labels.index(label))
        want = krippendorff.alpha(reliability_data=binary, level_of_measurement="nominal")
        assert got.per_label[label] == pytest.approx(want, abs=1e-6)
    for pair in got.pairs:
        a, b = matrix[raters.index(pair.a)], matrix[raters.index(pair.b)]
        both = ~np.isnan(a) & ~np.isnan(b)
        assert pair.tasks == int(both.sum())
        assert pair.cohen_kappa == pytest.approx(cohen_kappa_score(a[both], b[both]), abs=1e-6)
        assert pair.percent == pytest.approx(float((a[both] == b[both]).mean()), abs=1e-6)


def test_dawid_skene_beats_majority_against_spammers() -> None:
    truth = ["x" if t % 2 == 0 else "y" for t in range(20)]
    errs = {"a": {1, 3}, "b": {5}, "c": {7}}
    triples = []
    for t, true in enumerate(truth):
        flip = "y" if true == "x" else "x"
        triples += [(t, w, flip if t in e else true) for w, e in errs.items()]
        triples += [(t, "spam1", "x"), (t, "spam2", "x")]  # always the same answer
    vote = {a.task_id: a.label for a in labeling.majority_vote(triples)}
    ds = labeling.dawid_skene(triples)
    assert sum(vote[t] == truth[t] for t in range(20)) == 16
    assert [a.label for a in ds] == truth
    assert min(a.confidence for a in ds) > 0.5
    disagreed = labeling.aggregate(triples, "dawid-skene")
    assert {a.task_id for a in disagreed if a.agreement < 1} == set(range(1, 20, 2))
    with pytest.raises(InvalidArgumentError, match="'vote' is not one of majority"):
        labeling.aggregate(triples, "vote")


def test_find_label_issues_flags_a_flipped_label() -> None:
    rng = np.random.default_rng(0)
    n = 60
    given = ["a" if i % 2 == 0 else "b" for i in range(n)]
    probs = np.array([[0.9, 0.1] if g == "a" else [0.1, 0.9] for g in given])
    probs += rng.uniform(-0.05, 0.05, probs.shape)
    probs = probs / probs.sum(axis=1, keepdims=True)
    given[10] = "b"  # the model is sure it is "a"
    issues = labeling.find_label_issues(given, probs, ["a", "b"])
    assert [(i.index, i.given, i.suggested) for i in issues] == [(10, "b", "a")]
    with pytest.raises(InvalidArgumentError, match=r"labels \['z'\] are not among"):
        labeling.find_label_issues(["z"] * n, probs, ["a", "b"])


def test_public_surface_is_pinned() -> None:
    pinned = """
KINDS METHODS STRATEGIES Aggregated Agreement AgreementCheck Imported LabelConfig LabelIssue
PairAgreement RelabelCheck RelabelRound Status aggregate aggregate_labels agreement answer_key
check_agreement check_answer check_result config_of config_xml create_project dawid_skene
export_dataset export_labelstudio export_rows feedback_labels find_label_issues import_tasks
iter_annotations iter_tasks majority_vote monitor_cohorts parse_config project_agreement
relabel_check review sample status submit write_labelstudio
"""
    assert sorted(labeling.__all__) == sorted(pinned.split())
    assert all(hasattr(labeling, name) for name in labeling.__all__)
