"""Notifiers (webhook with Slack-compatible JSON, SMTP email, the log) and their delivery.

A delivery is stored before it is attempted, so an alert is never lost: a webhook that is
down or slow only costs its timeout; the delivery stays pending with a growing back-off
(30 s, 1 min, 2 min ... capped at an hour) and is retried by the next monitor run or
``keel alerts deliver``. After ``max_attempts`` it is marked failed and kept with its
last error. Secrets are never stored: an SMTP password or webhook header value is read
from the environment variable the notifier names (``password_env``, ``headers_env``).
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from keel.exceptions import InvalidArgumentError
from keel.store import Store
from keel.store.alerts import Alert, Notifier

log = logging.getLogger("keel.alerts")

_EMOJI = {"critical": ":red_circle:", "warning": ":warning:", "info": ":information_source:"}


@dataclass(frozen=True)
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    errors: tuple[str, ...] = ()


#: an email notifier's required settings -> the option of `keel alerts notifiers add` giving it
_EMAIL_OPTIONS = {"host": "smtp-host", "sender": "sender", "to": "email-to"}


def check_config(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    """Validate a notifier's settings when it is added, naming what is missing."""
    if kind == "webhook":
        url = str(config.get("url", ""))
        if not url.startswith(("http://", "https://")):
            raise InvalidArgumentError(f"webhook url {url!r} must start with http:// or https://")
        if config.get("format", "slack") not in ("slack", "json"):
            raise InvalidArgumentError("webhook format must be 'slack' or 'json'")
    elif kind == "email":
        for key, flag in _EMAIL_OPTIONS.items():
            if not config.get(key):
                raise InvalidArgumentError(
                    f"email notifier needs {key!r} (`keel alerts notifiers add` option --{flag})"
                )
        if isinstance(config["to"], str):
            config = {**config, "to": [t.strip() for t in config["to"].split(",") if t.strip()]}
    elif kind != "log":
        raise InvalidArgumentError(f"notifier kind {kind!r} is not webhook, email or log")
    return config


def alert_text(alert: Alert, event: str) -> str:
    where = f" on {alert.deployment}" if alert.deployment else ""
    what = {"resolved": "Resolved", "escalated": "Escalated"}.get(event, alert.severity.upper())
    return f"[keel] {what}{where}: {alert.title}"


def slack_payload(alert: Alert, event: str) -> dict[str, Any]:
    """Slack incoming-webhook JSON (``text`` plus one ``blocks`` section)."""
    lines = [f"{_EMOJI.get(alert.severity, '')} *{alert_text(alert, event)}*"]
    if alert.message:
        lines.append(alert.message)
    lines.append(
        f"alert #{alert.id} · {alert.kind} · seen {alert.occurrences}x · "
        f"`keel alerts show {alert.id}`"
    )
    body = "\n".join(lines)
    return {
        "text": alert_text(alert, event),
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": body[:2900]}}],
    }


def json_payload(alert: Alert, event: str) -> dict[str, Any]:
    from dataclasses import asdict

    data = asdict(alert)
    data["state"] = alert.state.value
    return {"event": event, "text": alert_text(alert, event), "alert": data}


def send(notifier: Notifier, alert: Alert, event: str, *, timeout_s: float = 5.0) -> None:
    """Deliver one alert event; raises on any failure (the caller records and retries)."""
    if notifier.kind == "webhook":
        _webhook(notifier.config, alert, event, timeout_s)
    elif notifier.kind == "email":
        _email(notifier.config, alert, event, timeout_s)
    else:
        level = logging.INFO if event == "resolved" else logging.WARNING
        log.log(level, "%s %s", alert_text(alert, event), alert.message)


def _webhook(config: dict[str, Any], alert: Alert, event: str, timeout_s: float) -> None:
    payload = (
        slack_payload(alert, event)
        if config.get("format", "slack") == "slack"
        else json_payload(alert, event)
    )
    headers = {"Content-Type": "application/json", "User-Agent": "keel-alerts"}
    for name, env in dict(config.get("headers_env") or {}).items():
        value = os.environ.get(str(env))
        if value is None:
            raise RuntimeError(
                f"header {name!r} needs environment variable {env!r}, which is unset"
            )
        headers[str(name)] = value
    request = urllib.request.Request(
        str(config["url"]),
        data=json.dumps(payload, default=str).encode(),
        headers=headers,
        method="POST",
    )
    try:
        with urllib.request.urlopen(
            request, timeout=float(config.get("timeout_s", timeout_s))
        ) as resp:
            resp.read(1024)
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"webhook answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise RuntimeError(f"webhook unreachable: {getattr(exc, 'reason', exc)}") from exc


def _email(config: dict[str, Any], alert: Alert, event: str, timeout_s: float) -> None:
    msg = EmailMessage()
    msg["Subject"] = alert_text(alert, event)
    msg["From"] = str(config["sender"])
    msg["To"] = ", ".join(config["to"])
    evidence = json.dumps(alert.evidence, indent=2, default=str)
    msg.set_content(
        f"{alert.message}\n\nAlert #{alert.id} ({alert.kind}, {alert.severity}), "
        f"seen {alert.occurrences} time(s).\n\nEvidence:\n{evidence}\n"
    )
    port = int(config.get("port", 465 if config.get("ssl") else 25))
    smtp_cls = smtplib.SMTP_SSL if config.get("ssl") else smtplib.SMTP
    with smtp_cls(str(config["host"]), port, timeout=timeout_s) as smtp:
        if config.get("starttls"):
            smtp.starttls()
        if config.get("username"):
            password = os.environ.get(str(config.get("password_env", "")), "")
            smtp.login(str(config["username"]), password)
        smtp.send_message(msg)


def send_test(notifier: Notifier, *, timeout_s: float = 5.0) -> None:
    """Send a made-up alert through ``notifier`` now (raises if it cannot be delivered)."""
    from keel.store.alerts import AlertState

    now = int(time.time() * 1000)
    alert = Alert(
        id=0,
        project_id=notifier.project_id,
        monitor_id=None,
        deployment=notifier.deployment,
        kind="test",
        severity="info",
        dedup_key="test",
        state=AlertState.OPEN,
        title="test notification from keel",
        message="If you read this, alerts reach you.",
        evidence={},
        occurrences=1,
        first_seen_at=now,
        last_seen_at=now,
        window_start=None,
        window_end=None,
        acknowledged_at=None,
        acknowledged_by="",
        resolved_at=None,
        resolved_by="",
        note="",
    )
    send(notifier, alert, "test", timeout_s=timeout_s)


def deliver_pending(
    store: Store,
    project_id: int,
    *,
    timeout_s: float = 5.0,
    budget_s: float = 30.0,
    max_attempts: int = 8,
    base_delay_s: float = 30.0,
) -> DeliveryReport:
    """Attempt every due delivery once, within ``budget_s`` seconds overall."""
    started = time.monotonic()
    now = int(time.time() * 1000)
    lease_ms = int((timeout_s + budget_s) * 1000)
    sent = retrying = failed = 0
    errors: list[str] = []
    for delivery in store.alerts.claim_due(project_id, now=now, lease_ms=lease_ms):
        if time.monotonic() - started > budget_s:
            store.alerts.finish_delivery(
                delivery.id, ok=False, error="not attempted: time budget spent", retry_at=now
            )
            retrying += 1
            continue
        notifier = store.alerts.get_notifier_by_id(delivery.notifier_id)
        alert = store.alerts.get(project_id, delivery.alert_id)
        try:
            send(notifier, alert, delivery.event, timeout_s=timeout_s)
        except Exception as exc:  # any failure is recorded and retried, never raised
            error = f"{type(exc).__name__}: {exc}"
            attempts = delivery.attempts + 1
            retry_at = None
            if attempts < max_attempts:
                retry_at = int(
                    time.time() * 1000 + min(3600.0, base_delay_s * 2 ** (attempts - 1)) * 1000
                )
            store.alerts.finish_delivery(delivery.id, ok=False, error=error, retry_at=retry_at)
            errors.append(f"{notifier.name}: {error}")
            if retry_at is None:
                failed += 1
            else:
                retrying += 1
            continue
        store.alerts.finish_delivery(delivery.id, ok=True)
        sent += 1
    return DeliveryReport(sent, retrying, failed, tuple(errors))
