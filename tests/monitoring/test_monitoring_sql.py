"""``keel sql`` over the logs and metadata: joins work, nothing but reading is allowed."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from monitoring_helpers import NOW, Traffic

from keel.exceptions import InvalidArgumentError
from keel.monitoring import MonitoringClient, sql_tables


def test_tables_join_predictions_feedback_and_alerts(
    mon: MonitoringClient, send: Callable[..., Traffic]
) -> None:
    t = send(500)
    mon.record_feedback("churn", {"request_id": t.ids, "label": t.labels})
    mon.configure("churn", reference="model:churn/1", window="1h")
    mon.run("churn", end_ms=NOW, deliver=False)
    frame = mon.sql(
        """
        SELECT p.deployment, count(*) AS n,
               avg((f.label = CAST(p.outputs.predictions AS VARCHAR))::INT) AS accuracy
        FROM predictions p JOIN feedback f USING (request_id, "row")
        GROUP BY ALL
        """
    )
    assert frame["n"].tolist() == [500]
    assert frame["accuracy"].iloc[0] == pytest.approx(float((t.labels == t.pred).mean()))
    summary = mon.sql("SELECT value FROM monitoring WHERE kind = 'summary' AND name = 'rows'")
    assert summary["value"].tolist() == [500.0]
    assert mon.sql("SELECT count(*) AS n FROM alerts")["n"].iloc[0] == 0
    assert mon.sql("SELECT subject FROM reference_profiles")["subject"].tolist() == [
        "model:churn/1"
    ]
    assert {"predictions", "feedback", "monitoring", "alerts", "runs"} <= set(sql_tables())


def test_metadata_is_scoped_to_the_project(mon: MonitoringClient) -> None:
    from keel.monitoring import MonitoringClient as Client

    other = Client(mon.store, project="other")
    other.set_reference("model:secret/1", {"x": [1.0, 2.0]})
    assert mon.sql("SELECT subject FROM reference_profiles")["subject"].tolist() == [
        "model:churn/1"
    ]
    assert other.sql("SELECT subject FROM reference_profiles")["subject"].tolist() == [
        "model:secret/1"
    ]


def test_empty_logs_still_answer(mon: MonitoringClient) -> None:
    assert mon.sql("SELECT count(*) AS n FROM predictions")["n"].tolist() == [0]
    assert mon.sql("SELECT count(*) AS n FROM feedback")["n"].tolist() == [0]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("COPY (SELECT 1) TO '/tmp/x.csv'", "only reads"),
        ("CREATE TABLE t AS SELECT 1", "only reads"),
        ("SELECT 1; SELECT 2", "exactly one"),
        ("SELECT * FROM read_csv('/etc/passwd')", "Permission"),
        ("SELECT * FROM no_such_table", "Tables:"),
        ("SELEC 1", "does not parse"),
    ],
)
def test_only_reads_inside_the_logs(
    mon: MonitoringClient, send: Callable[..., Traffic], query: str, message: str
) -> None:
    send(5)
    with pytest.raises(InvalidArgumentError, match=message):
        mon.sql(query)


@pytest.mark.parametrize(
    ("query", "hint"),
    [
        ("SELECT * FROM run", 'Table with name run does not exist! Did you mean "runs"?'),
        ("SELECT * FROM nosuch", "Table with name nosuch does not exist! Tables: alerts,"),
        # DuckDB's own hints are kept when they name something of the query's
        ("SELECT lenght('x')", 'Did you mean "length'),
    ],
)
def test_a_hint_names_keels_tables_not_duckdbs_catalog(
    mon: MonitoringClient, query: str, hint: str
) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        mon.sql(query)
    message = str(info.value)
    assert hint in message and "duckdb_" not in message and "pg_" not in message, message


@pytest.mark.parametrize(
    "query",
    ["SELECT * FROM no_such_table", "SELECT no_such_column FROM predictions", "SELECT 1 +"],
)
def test_a_query_error_is_one_line(mon: MonitoringClient, query: str) -> None:
    """DuckDB's hint lines and its excerpt of the query with a caret are not kept: the CLI
    prints the message as the one line of its error."""
    with pytest.raises(InvalidArgumentError) as info:
        mon.sql(query)
    assert "\n" not in str(info.value) and "^" not in str(info.value), str(info.value)
