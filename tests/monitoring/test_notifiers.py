"""Notifiers against real local servers: a webhook that works, fails or hangs; SMTP; the log."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from monitoring_helpers import NOW, Traffic

from keel.exceptions import InvalidArgumentError
from keel.monitoring import MonitoringClient
from keel.store.alerts import NewAlert


class Hook:
    """A local webhook endpoint whose behaviour a test switches: ok, fail or hang."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.bodies: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if hook.mode == "hang":
                    time.sleep(3)
                if hook.mode == "fail":
                    self.send_response(503)
                    self.end_headers()
                    return
                hook.bodies.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # type: ignore[method-assign]
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.close()


def _raise(
    mon: MonitoringClient, key: str = "churn/drift/inputs", severity: str = "warning"
) -> None:
    alert, event = mon.store.alerts.record(
        mon.project_id,
        NewAlert(
            "drift",
            severity,
            key,
            "input drift in 1 column(s): age",
            "age moved",
            {"column": "age"},
            deployment="churn",
        ),
    )
    mon.store.alerts.enqueue(alert, event)


def test_webhook_gets_slack_json(mon: MonitoringClient, hook: Hook) -> None:
    mon.add_notifier("slack", "webhook", {"url": hook.url})
    _raise(mon)
    report = mon.deliver()
    assert (report.sent, report.retrying, report.failed) == (1, 0, 0)
    (body,) = hook.bodies
    assert body["text"].startswith("[keel] WARNING on churn: input drift")
    assert (
        body["blocks"][0]["type"] == "section"
        and "keel alerts show" in body["blocks"][0]["text"]["text"]
    )


def test_down_or_slow_webhook_keeps_the_alert_and_retries(
    mon: MonitoringClient, hook: Hook, send: Callable[..., Traffic]
) -> None:
    mon.add_notifier("slack", "webhook", {"url": hook.url, "format": "json", "timeout_s": 0.5})
    mon.configure("churn", reference="model:churn/1", window="1h")
    send(2000, age_shift=20)
    hook.mode = "hang"
    started = time.monotonic()
    from keel.monitoring import run_monitor
    from keel.store.eventlog import Window

    run = run_monitor(mon.store, mon.project_id, "churn", Window(NOW - 3_600_000, NOW))
    # the run went on: alerts are stored, the hanging webhook cost one timeout per delivery
    assert any(a.kind == "drift" for a, _ in run.alerts)
    assert run.deliveries.retrying >= 1 and run.deliveries.sent == 0
    assert time.monotonic() - started < 30
    pending = [d for a in mon.alerts() for d in mon.store.alerts.deliveries(a.id)]
    assert pending and all(d.status == "pending" and d.attempts == 1 for d in pending)
    assert all("timed out" in d.last_error or "unreachable" in d.last_error for d in pending)

    hook.mode = "fail"
    _force_due(mon)
    assert mon.deliver().retrying == len(pending)
    assert {d.last_error for a in mon.alerts() for d in mon.store.alerts.deliveries(a.id)} == {
        "RuntimeError: webhook answered HTTP 503"
    }

    hook.mode = "ok"
    _force_due(mon)
    assert mon.deliver().sent == len(pending)
    assert {b["event"] for b in hook.bodies} == {"opened"}
    assert all(b["alert"]["deployment"] == "churn" for b in hook.bodies)


def _force_due(mon: MonitoringClient) -> None:
    """Skip the back-off wait (the scheduled retry time is what a real run would wait for)."""
    from sqlalchemy import update

    from keel.store._schema import table
    from keel.store._schema_monitoring import AlertDeliveryRow

    with mon.store.db.write() as conn:
        conn.execute(update(table(AlertDeliveryRow)).values(next_attempt_at=0))


def test_gives_up_after_max_attempts_and_keeps_the_error(mon: MonitoringClient, hook: Hook) -> None:
    from keel.monitoring import deliver_pending

    hook.mode = "fail"
    mon.add_notifier("slack", "webhook", {"url": hook.url})
    _raise(mon)
    for _ in range(3):
        report = deliver_pending(mon.store, mon.project_id, max_attempts=3)
        _force_due(mon)
    assert report.failed == 1
    (alert,) = mon.alerts()
    (delivery,) = mon.store.alerts.deliveries(alert.id)
    assert (delivery.status, delivery.attempts) == ("failed", 3) and "503" in delivery.last_error
    assert alert.state.value == "open"  # the alert itself is kept


def test_email_over_smtp(mon: MonitoringClient) -> None:
    from aiosmtpd.controller import Controller

    received: list[Any] = []

    class Sink:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope)
            return "250 OK"

    port = _free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        mon.add_notifier(
            "mail",
            "email",
            {
                "host": "127.0.0.1",
                "port": port,
                "sender": "keel@example.com",
                "to": "a@x.org, b@x.org",
            },
            min_severity="critical",
        )
        _raise(mon, key="churn/drift/quiet", severity="warning")  # below the notifier's floor
        _raise(mon, key="churn/performance/accuracy", severity="critical")
        report = mon.deliver()
    finally:
        controller.stop()
    assert report.sent == 1
    (mail,) = received
    assert mail.rcpt_tos == ["a@x.org", "b@x.org"]
    text = mail.content.decode()
    assert "Subject: [keel] CRITICAL on churn" in text and '"column": "age"' in text


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_log_notifier_and_test_message(
    mon: MonitoringClient, caplog: pytest.LogCaptureFixture
) -> None:
    from keel.monitoring import send_test

    notifier = mon.add_notifier("log", "log", {}, min_severity="info")
    with caplog.at_level(logging.INFO, logger="keel.alerts"):
        _raise(mon)
        assert mon.deliver().sent == 1
        send_test(notifier)
    assert "[keel] WARNING on churn: input drift" in caplog.text
    assert "test notification from keel" in caplog.text


def test_bad_notifier_settings_name_the_problem(mon: MonitoringClient) -> None:
    with pytest.raises(InvalidArgumentError, match="must start with http"):
        mon.add_notifier("x", "webhook", {"url": "file:///etc/passwd"})
    with pytest.raises(InvalidArgumentError, match="needs 'sender'"):
        mon.add_notifier("x", "email", {"host": "h", "to": "a@b"})
