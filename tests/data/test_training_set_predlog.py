"""The prediction log with feedback as a feature source: labels count from when they arrived."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from keel.cli import cli
from keel.data import DatasetClient, PredictionFeatures, training_set
from keel.exceptions import InvalidArgumentError
from keel.monitoring import record_feedback
from keel.store.predlog import write_predictions

JAN = pd.Timestamp("2024-01-01", tz="UTC")
DAY = pd.Timedelta("1D")


def _ms(ts: pd.Timestamp) -> int:
    return int(ts.value // 1_000_000)


@pytest.fixture
def served(datasets: DatasetClient) -> DatasetClient:
    """Deployment ``churn``: five predictions in January 2024; two labels arrive today."""
    settings = datasets.store.settings
    times = [JAN, JAN + 10 * DAY, JAN + 20 * DAY, JAN + 5 * DAY, JAN + 30 * DAY]
    write_predictions(
        settings,
        "churn",
        {"customer": [1, 1, 1, 2, 3], "tenure": [3.0, 4.0, 5.0, 9.0, 1.0]},
        {"score": [0.1, 0.2, 0.3, 0.8, 0.5]},
        request_ids=["r0", "r1", "r2", "r3", "r4"],
        timestamps_ms=[_ms(t) for t in times],
    )
    labels = [{"request_id": "r1", "label": "1"}, {"request_id": "r3", "label": "0"}]
    assert record_feedback(settings, "churn", labels).stored == 2
    return datasets


def test_predictions_as_of_their_time_and_labels_as_of_their_arrival(
    served: DatasetClient,
) -> None:
    now = pd.Timestamp.now(tz="UTC")
    entities = pd.DataFrame(
        {
            "customer": [1, 1, 1, 2, 3],
            "event_time": [JAN + 15 * DAY, JAN - DAY, now + 365 * DAY, now + DAY, JAN + 40 * DAY],
        }
    )
    out = training_set(
        entities, [PredictionFeatures("churn", keys=["customer"])], datasets=served
    ).to_pandas()
    assert list(out.columns) == [
        "customer", "event_time", "churn_tenure", "churn_score", "churn_label", "churn_value",
    ]  # fmt: skip
    # Jan 16: the Jan 11 prediction is known, its label (it came back today) is not.
    assert out.churn_score[0] == 0.2 and pd.isna(out.churn_label[0])
    assert pd.isna(out.churn_score[1])  # before the first prediction: nothing
    assert (out.churn_score[2], out.churn_label[2]) == (0.3, "1")  # a year from now: both
    assert (out.churn_label[3], out.churn_value[3]) == ("0", 0.0)
    assert pd.isna(out.churn_label[4])  # customer 3's prediction was never labelled
    # A naive join on the prediction's time would have given Jan 16 the label from the future.
    preds = pd.DataFrame({"customer": [1, 1, 1], "ts": [JAN, JAN + 10 * DAY, JAN + 20 * DAY]})
    preds["label"] = [None, "1", None]
    naive = pd.merge_asof(
        entities.iloc[[0]], preds, left_on="event_time", right_on="ts", by="customer"
    )
    assert naive.label[0] == "1"


def test_saved_lineage_names_the_log_and_bad_input_is_refused(served: DatasetClient) -> None:
    entities = pd.DataFrame({"customer": [1, 2], "event_time": [JAN + 15 * DAY] * 2})
    spec = PredictionFeatures("churn", keys=["customer"], columns=["score"], feedback=False)
    saved = training_set(entities, [spec], datasets=served, name="churn-train")
    assert saved.version is not None and saved.table.column_names[-1] == "churn_score"
    (src,) = [s for s in served.get("churn-train@1").source["sources"] if s["role"] == "features"]
    assert src["type"] == "prediction_log" and src["deployment"] == "churn"
    assert src["part"] == "predictions" and src["rows"] == 5 and len(src["content_hash"]) == 64
    assert src["window"][0].startswith("2024-01-01")
    bad = [
        (PredictionFeatures("nope", keys=["customer"]), "no prediction log"),
        (PredictionFeatures("churn", keys=["user"]), r"\['user'\] are not in the prediction log"),
        (PredictionFeatures("churn", keys=[]), "needs keys"),
        (PredictionFeatures("churn", keys=["customer"], columns=["x"]), r"no column\(s\) \['x'\]"),
    ]
    for feature, message in bad:
        with pytest.raises(InvalidArgumentError, match=message):
            training_set(entities, [feature], datasets=served)
    with pytest.raises(InvalidArgumentError, match="is naive"):  # the log is in UTC
        naive = entities.assign(event_time=entities.event_time.dt.tz_localize(None))
        training_set(naive, [spec], datasets=served)
    with pytest.raises(InvalidArgumentError, match="needs datasets"):
        training_set(entities, [spec])


def test_cli_training_set_from_the_prediction_log(cli_runner: CliRunner, tmp_path: Path) -> None:
    from keel.cli import _context

    settings = _context.settings()
    ids = ["a", "b"]
    write_predictions(
        settings, "churn", {"customer": [1, 2]}, {"score": [0.4, 0.6]},
        request_ids=ids, timestamps_ms=[_ms(JAN), _ms(JAN)],
    )  # fmt: skip
    record_feedback(settings, "churn", [{"request_id": "a", "label": "1"}])
    path = tmp_path / "labels.parquet"
    now = pd.Timestamp.now(tz="UTC")
    pd.DataFrame({"customer": [1, 2], "event_time": [now + DAY] * 2}).to_parquet(path)
    base = ["datasets", "training-set", "prod-train", "-e", str(path)]
    result = cli_runner.invoke(cli, [*base, "-p", "churn:customer", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["version"]["num_rows"] == 2
    parts = [(s["role"], s.get("part")) for s in out["sources"]]
    assert parts == [("entities", None), ("features", "predictions"), ("features", "feedback")]
    table = cli_runner.invoke(cli, [*base, "-p", "churn:customer"])
    assert "churn feedback (prediction log)" in table.stdout
    result = cli_runner.invoke(cli, [*base, "-p", "churn"])
    assert result.exit_code == 2 and "DEPLOYMENT:KEY" in result.output
