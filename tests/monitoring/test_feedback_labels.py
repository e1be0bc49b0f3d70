"""Feedback labels: joined by request id; unknown ids and duplicates give clear results."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from monitoring_helpers import Traffic

from keel.exceptions import ConflictError, InvalidArgumentError
from keel.monitoring import MonitoringClient, read_feedback
from keel.monitoring._labels import canonical


def test_labels_are_stored_and_unknown_ids_refused(
    mon: MonitoringClient, send: Callable[..., Traffic]
) -> None:
    t = send(10)
    known = [
        {"request_id": i, "label": int(y)} for i, y in zip(t.ids[:5], t.labels[:5], strict=True)
    ]
    ghosts = [{"request_id": "ghost-1", "label": 1}, {"request_id": "ghost-2", "label": 0}]
    result = mon.record_feedback("churn", known + ghosts)
    assert (result.received, result.stored, result.unknown) == (7, 5, 2)
    assert result.unknown_ids == ["ghost-1", "ghost-2"]
    stored = read_feedback(mon.store.settings, "churn")
    assert sorted(stored.column("request_id").to_pylist()) == sorted(t.ids[:5])
    assert set(stored.column("label").to_pylist()) <= {"0", "1"}


def test_duplicates_skip_replace_or_error(
    mon: MonitoringClient, send: Callable[..., Traffic]
) -> None:
    t = send(3)
    first = mon.record_feedback("churn", {"request_id": [t.ids[0], t.ids[0]], "label": ["1", "0"]})
    assert (first.stored, first.repeated_in_batch) == (1, 1)
    assert read_feedback(mon.store.settings, "churn").column("label").to_pylist() == ["0"]
    again = mon.record_feedback("churn", {"request_id": [t.ids[0], t.ids[1]], "label": [1, 1]})
    assert (again.stored, again.already_labelled, again.already_labelled_ids) == (1, 1, [t.ids[0]])
    assert _label(mon, t.ids[0]) == "0"  # skipped: the first label stays
    replaced = mon.record_feedback(
        "churn", {"request_id": [t.ids[0]], "label": [1]}, on_duplicate="replace"
    )
    assert (replaced.stored, replaced.replaced) == (1, 1) and _label(mon, t.ids[0]) == "1"
    with pytest.raises(ConflictError, match="already have a label"):
        mon.record_feedback("churn", {"request_id": [t.ids[0]], "label": [0]}, on_duplicate="error")


def _label(mon: MonitoringClient, request_id: str) -> str:
    table = read_feedback(mon.store.settings, "churn")
    return dict(
        zip(table.column("request_id").to_pylist(), table.column("label").to_pylist(), strict=True)
    )[request_id]


def test_import_parquet_and_csv(
    mon: MonitoringClient, send: Callable[..., Traffic], tmp_path: Path
) -> None:
    t = send(20)
    pq.write_table(pa.table({"id": t.ids[:10], "truth": t.labels[:10]}), tmp_path / "a.parquet")
    pd.DataFrame({"request_id": t.ids[10:], "label": t.labels[10:]}).to_csv(
        tmp_path / "b.csv", index=False
    )
    a = mon.import_feedback("churn", tmp_path / "a.parquet", id_column="id", label_column="truth")
    b = mon.import_feedback("churn", tmp_path / "b.csv")
    assert (a.stored, b.stored) == (10, 10)
    table = read_feedback(mon.store.settings, "churn")
    assert table.num_rows == 20 and set(table.column("source").to_pylist()) == {
        "import:a.parquet",
        "import:b.csv",
    }
    with pytest.raises(InvalidArgumentError, match="no 'request_id' column"):
        mon.import_feedback("churn", tmp_path / "a.parquet")
    with pytest.raises(InvalidArgumentError, match="does not exist"):
        mon.import_feedback("churn", tmp_path / "missing.csv")


def test_bad_feedback_is_refused_with_the_reason(
    mon: MonitoringClient, send: Callable[..., Traffic]
) -> None:
    t = send(2)
    with pytest.raises(InvalidArgumentError, match="non-empty request_id"):
        mon.record_feedback("churn", {"request_id": ["", t.ids[0]], "label": [1, 0]})
    with pytest.raises(InvalidArgumentError, match="empty labels"):
        mon.record_feedback("churn", {"request_id": t.ids, "label": [1, None]})
    with pytest.raises(InvalidArgumentError, match="on_duplicate"):
        mon.record_feedback("churn", [], on_duplicate="merge")
    nothing = mon.record_feedback("nobody", {"request_id": ["a"], "label": [1]})
    assert (nothing.stored, nothing.unknown) == (0, 1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, "1"),
        (1.0, "1"),
        ("1.0", "1"),
        (" yes ", "yes"),
        (True, "true"),
        ("False", "false"),
        (0.25, "0.25"),
        (None, None),
    ],
)
def test_labels_have_one_spelling(value: object, expected: str | None) -> None:
    assert canonical(value) == expected
