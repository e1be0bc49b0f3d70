"""The monitors and alerts repositories on every metadata backend."""

from __future__ import annotations

import threading

import pytest

from keel.exceptions import AlreadyExistsError, ConflictError, InvalidArgumentError, NotFoundError
from keel.store import Store
from keel.store.alerts import AlertState, NewAlert


def _project(store: Store) -> int:
    return store.projects.get_or_create("default").id


def _alert(key: str = "drift:x", severity: str = "warning", **kw: object) -> NewAlert:
    return NewAlert(
        kind="drift",
        severity=severity,
        dedup_key=key,
        title=f"{key} moved",
        deployment="churn",
        evidence={"p": 0.001, "column": "x"},
        **kw,
    )  # type: ignore[arg-type]


def test_monitor_upsert_keeps_fields_not_given(store: Store) -> None:
    pid = _project(store)
    created = store.monitors.upsert(pid, "churn", reference="model:churn/1", config={"a": 1})
    assert created.window == "1d" and created.config == {"a": 1} and created.enabled
    changed = store.monitors.upsert(pid, "churn", window="6h")
    assert (changed.id, changed.reference, changed.window, changed.config) == (
        created.id,
        "model:churn/1",
        "6h",
        {"a": 1},
    )
    store.monitors.mark_run(created.id, 2000)
    store.monitors.mark_run(created.id, 1000)
    assert store.monitors.get(pid, "churn").last_window_end == 2000
    assert [m.deployment for m in store.monitors.list(pid)] == ["churn"]
    store.monitors.delete(pid, "churn")
    with pytest.raises(NotFoundError, match="keel monitor set churn"):
        store.monitors.get(pid, "churn")


def test_reference_profiles_replace_by_subject(store: Store) -> None:
    pid = _project(store)
    store.monitors.put_reference(
        pid, "model:churn/1", blob_sha="a" * 64, num_rows=10, num_columns=3
    )
    again = store.monitors.put_reference(
        pid, "model:churn/1", blob_sha="b" * 64, num_rows=20, num_columns=3, source="dataset:x@2"
    )
    assert (again.blob_sha, again.num_rows, again.source) == ("b" * 64, 20, "dataset:x@2")
    assert len(store.monitors.list_references(pid)) == 1
    with pytest.raises(NotFoundError, match="keel monitor reference"):
        store.monitors.get_reference(pid, "model:nope/1")


def test_alerts_deduplicate_while_live_and_reopen_after_resolve(store: Store) -> None:
    pid = _project(store)
    first, event = store.alerts.record(pid, _alert())
    assert event == "opened" and first.state is AlertState.OPEN
    again, event = store.alerts.record(pid, _alert())
    assert event == "repeated" and again.id == first.id and again.occurrences == 2
    worse, event = store.alerts.record(pid, _alert(severity="critical"))
    assert event == "escalated" and worse.severity == "critical"
    acked = store.alerts.acknowledge(pid, first.id, by="ana", note="looking")
    assert acked.state is AlertState.ACKNOWLEDGED and acked.acknowledged_by == "ana"
    assert store.alerts.record(pid, _alert())[1] == "repeated"  # still live while acknowledged
    resolved = store.alerts.resolve(pid, first.id, by="ana")
    assert resolved.state is AlertState.RESOLVED and resolved.evidence == {
        "p": 0.001,
        "column": "x",
    }
    with pytest.raises(ConflictError, match="already resolved"):
        store.alerts.resolve(pid, first.id)
    reopened, event = store.alerts.record(pid, _alert())
    assert event == "opened" and reopened.id != first.id
    assert [a.id for a in store.alerts.list(pid, state="live")] == [reopened.id]
    assert len(store.alerts.list(pid)) == 2
    assert store.alerts.latest_id(pid, deployment="churn") == reopened.id


def test_concurrent_raises_of_one_condition_make_one_alert(store: Store) -> None:
    pid = _project(store)
    errors: list[BaseException] = []

    def raise_many() -> None:
        try:
            for _ in range(5):
                store.alerts.record(pid, _alert("resource:p99"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=raise_many) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    alerts = store.alerts.list(pid)
    assert len(alerts) == 1 and alerts[0].occurrences == 20


def test_resolve_absent_closes_cleared_conditions(store: Store) -> None:
    pid = _project(store)
    monitor = store.monitors.upsert(pid, "churn")
    for key in ("drift:x", "drift:y"):
        store.alerts.record(pid, _alert(key, monitor_id=monitor.id))
    closed = store.alerts.resolve_absent(pid, monitor.id, ["drift"], {"drift:x"}, by="monitor")
    assert [a.dedup_key for a in closed] == ["drift:y"]
    assert [a.dedup_key for a in store.alerts.list(pid, state="live")] == ["drift:x"]


def test_notifiers_deliveries_and_leases(store: Store) -> None:
    pid = _project(store)
    store.alerts.add_notifier(pid, "ops", "webhook", {"url": "http://x"})
    store.alerts.add_notifier(pid, "pager", "log", {}, min_severity="critical")
    store.alerts.add_notifier(pid, "other", "log", {}, deployment="fraud")
    with pytest.raises(AlreadyExistsError, match="notifier 'ops' exists"):
        store.alerts.add_notifier(pid, "ops", "log", {})
    with pytest.raises(InvalidArgumentError, match="sms"):
        store.alerts.add_notifier(pid, "x", "sms", {})
    alert, _ = store.alerts.record(pid, _alert())
    queued = store.alerts.enqueue(alert, "opened")
    assert [store.alerts.get_notifier_by_id(d.notifier_id).name for d in queued] == ["ops"]
    due = queued[0].next_attempt_at
    claimed = store.alerts.claim_due(pid, now=due, lease_ms=60_000)
    assert [d.id for d in claimed] == [queued[0].id]
    assert store.alerts.claim_due(pid, now=due + 1, lease_ms=60_000) == []  # leased
    retry = store.alerts.finish_delivery(claimed[0].id, ok=False, error="503", retry_at=5)
    assert (retry.status, retry.attempts, retry.last_error) == ("pending", 1, "503")
    sent = store.alerts.finish_delivery(claimed[0].id, ok=True)
    assert (sent.status, sent.attempts) == ("sent", 2) and sent.sent_at is not None


def test_alert_input_is_checked(store: Store) -> None:
    with pytest.raises(InvalidArgumentError, match="severity 'loud'"):
        _alert(severity="loud")
    pid = _project(store)
    with pytest.raises(InvalidArgumentError, match="NaN"):
        store.alerts.record(pid, NewAlert("drift", "info", "k", "t", evidence={"p": float("nan")}))
    with pytest.raises(NotFoundError, match="alert 999"):
        store.alerts.acknowledge(pid, 999)


def test_monitoring_a_missing_project_reads_fail_and_a_write_creates_it(store: Store) -> None:
    """The client looks its project up on first use: a read of a misspelt project is an
    error naming it and leaves nothing behind; adding a notifier (a write) creates it."""
    from keel.monitoring import MonitoringClient

    mon = MonitoringClient(store, "typo")
    reads = [
        mon.monitors,
        mon.alerts,
        mon.references,
        lambda: mon.monitor("churn"),
        lambda: mon.delete_monitor("churn"),
    ]
    for read in reads:
        with pytest.raises(NotFoundError, match="project 'typo' does not exist"):
            read()
    assert "typo" not in [p.name for p in store.projects.list()]
    mon.add_notifier("ops", "log", {})
    assert "typo" in [p.name for p in store.projects.list()]
    assert [n.name for n in store.alerts.list_notifiers(mon.project_id)] == ["ops"]


def test_monitoring_writes_check_their_input_before_making_the_project(store: Store) -> None:
    """A write checks its input against the project as it is and makes the project only to
    store the result: a bad input leaves none behind; a good one on a new project works."""
    from keel.monitoring import MonitoringClient

    mon = MonitoringClient(store, "fresh")
    bad = [
        (lambda: mon.update("churn", window="bogus"), InvalidArgumentError, "not a duration"),
        (lambda: mon.update("churn", numeric_test="bogus"), InvalidArgumentError, "bogus"),
        (lambda: mon.configure("churn", reference="m"), NotFoundError, "no reference profile"),
        (lambda: mon.update("churn", label_project="lp"), NotFoundError, "project 'fresh'"),
        (lambda: mon.add_notifier("ops", "log", {}, min_severity="x"), InvalidArgumentError, "x"),
        (lambda: mon.add_notifier("", "log", {}), InvalidArgumentError, "notifier name"),
    ]
    for call, error, message in bad:
        with pytest.raises(error, match=message):
            call()
    assert "fresh" not in [p.name for p in store.projects.list()]
    assert mon.update("churn", alpha=0.01).config["drift"]["alpha"] == 0.01
    assert "fresh" in [p.name for p in store.projects.list()]
