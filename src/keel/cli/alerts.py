"""``keel alerts``: list, acknowledge and resolve alerts; manage notifiers; retry deliveries."""

from typing import TYPE_CHECKING, Any

import typer

from keel.cli import _context
from keel.cli._options import JSON
from keel.cli._render import console, escape, fmt_time, listing, print_json, print_table

if TYPE_CHECKING:
    from keel.monitoring import MonitoringClient

app = typer.Typer(
    help="List, acknowledge and resolve alerts; manage notifiers.", no_args_is_help=True
)
notifiers = typer.Typer(
    help="Where alerts go: webhooks (Slack JSON), email, the log.", no_args_is_help=True
)
app.add_typer(notifiers, name="notifiers")


def _client(*, create: bool = False) -> "MonitoringClient":
    """The monitoring of the current project. A read needs the project to exist; a write
    (``create``) leaves it to the client, which makes it when it stores what was asked,
    after the input is checked (a bad option leaves no empty project behind)."""
    from keel.monitoring import MonitoringClient

    name = _context.settings().project if create else _context.project().name
    return MonitoringClient(_context.store(), name)


@app.command("list")
def list_(
    state: str = typer.Option(
        "live", "--state", "-s", help="live, open, acknowledged, resolved or all."
    ),
    deployment: str = typer.Option(None, "--deployment", "-d"),
    kind: str = typer.Option(
        None, "--kind", "-k", help="schema, drift, performance, cohort, resource ..."
    ),
    limit: int = typer.Option(50, "--limit", "-n", min=1, help="Newest alerts shown."),
    json_: bool = JSON,
) -> None:
    """Alerts, newest first (live = open or acknowledged)."""
    from keel.exceptions import InvalidArgumentError

    if state not in ("live", "open", "acknowledged", "resolved", "all"):
        raise InvalidArgumentError(
            f"--state {state!r}: use live, open, acknowledged, resolved or all"
        )
    alerts = _client().alerts(
        state=None if state == "all" else state, deployment=deployment, kind=kind, limit=limit
    )
    listing(
        alerts,
        json_,
        f"Alerts ({state})",
        ["id", "severity", "deployment", "kind", "state", "seen", "last seen", "title"],
        lambda a: [
            a.id,
            a.severity,
            a.deployment,
            a.kind,
            a.state,
            a.occurrences,
            fmt_time(a.last_seen_at),
            a.title,
        ],
        empty=f"no {state} alerts",
    )


@app.command()
def show(alert_id: int = typer.Argument(...), json_: bool = JSON) -> None:
    """One alert with its evidence and notification attempts."""
    mon = _client()
    alert = mon.alert(alert_id)
    deliveries = mon.store.alerts.deliveries(alert_id)
    if json_:
        print_json({"alert": alert, "deliveries": deliveries})
        return
    console().print(
        f"[bold]#{alert.id} {escape(alert.title)}[/bold]\n{alert.severity} {alert.kind} on "
        f"{escape(alert.deployment or '-')}: {alert.state}, seen {alert.occurrences}x, first "
        f"{fmt_time(alert.first_seen_at)}, last {fmt_time(alert.last_seen_at)}"
    )
    if alert.message:
        console().print(escape(alert.message))
    if alert.note:
        console().print(f"note: {escape(alert.note)}")
    import json

    console().print(escape(json.dumps(alert.evidence, indent=2, default=str)))
    print_table(
        "Notifications",
        ["notifier", "event", "status", "attempts", "last error"],
        [
            [
                mon.store.alerts.get_notifier_by_id(d.notifier_id).name,
                d.event,
                d.status,
                d.attempts,
                d.last_error,
            ]
            for d in deliveries
        ],
        empty="no notifications",
    )


ALERT_ID = typer.Argument(...)
NOTE = typer.Option("", "--note", "-m")
BY = typer.Option("", "--by", help="Who (default: $USER).")


@app.command("ack")
def acknowledge(alert_id: int = ALERT_ID, note: str = NOTE, by: str = BY) -> None:
    """Acknowledge an alert: someone is on it (it stays live and keeps deduplicating)."""
    alert = _client().acknowledge(alert_id, by=by or _user(), note=note)
    console().print(f"Alert #{alert.id} acknowledged.")


@app.command()
def resolve(alert_id: int = ALERT_ID, note: str = NOTE, by: str = BY) -> None:
    """Resolve an alert; the same condition later opens a new one."""
    alert = _client().resolve(alert_id, by=by or _user(), note=note)
    console().print(f"Alert #{alert.id} resolved.")


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:
        return ""


@app.command()
def deliver(
    timeout: float = typer.Option(5.0, "--timeout", help="Seconds per notification."),
    json_: bool = JSON,
) -> None:
    """Send notifications that are due (new ones, and retries of failed ones)."""
    report = _client().deliver(timeout_s=timeout)
    if json_:
        print_json(report)
        return
    console().print(
        f"{report.sent} sent, {report.retrying} to retry later, {report.failed} given up."
    )
    for error in report.errors:
        console().print(f"  [yellow]{escape(error)}[/yellow]")


@notifiers.command("list")
def notifiers_list(json_: bool = JSON) -> None:
    mon = _client()
    found = mon.store.alerts.list_notifiers(mon.project_id)
    listing(
        found,
        json_,
        "Notifiers",
        ["name", "kind", "min severity", "deployment", "target"],
        lambda n: [
            n.name,
            n.kind,
            n.min_severity,
            n.deployment or "(all)",
            _target(n.kind, n.config),
        ],
        empty="no notifiers; add one with `keel alerts notifiers add`",
    )


def _target(kind: str, config: dict[str, Any]) -> str:
    if kind == "webhook":
        url = str(config.get("url", ""))
        return url.split("?")[0][:40] + (
            "..." if len(url) > 40 else ""
        )  # webhook URLs hold secrets
    if kind == "email":
        return ", ".join(config.get("to", []))
    return "log"


@notifiers.command("add")
def notifiers_add(
    name: str = typer.Argument(...),
    webhook: str = typer.Option(None, "--webhook", help="POST alerts to this URL."),
    fmt: str = typer.Option("slack", "--format", help="Webhook body: slack or json."),
    email_to: str = typer.Option(None, "--email-to", help="Comma-separated recipients."),
    smtp_host: str = typer.Option(None, "--smtp-host"),
    smtp_port: int = typer.Option(None, "--smtp-port"),
    sender: str = typer.Option(None, "--sender", help="From address."),
    starttls: bool = typer.Option(False, "--starttls"),
    username: str = typer.Option(None, "--username"),
    password_env: str = typer.Option(
        None, "--password-env", help="Env var holding the SMTP password."
    ),
    log: bool = typer.Option(False, "--log", help="Write alerts to the keel.alerts logger."),
    min_severity: str = typer.Option(
        "warning", "--min-severity", help="info, warning or critical."
    ),
    deployment: str = typer.Option("", "--deployment", help="Only this deployment's alerts."),
) -> None:
    """Add a notifier (exactly one of --webhook, --email-to, --log)."""
    from keel.exceptions import InvalidArgumentError

    if sum(x for x in (webhook is not None, email_to is not None, log)) != 1:
        raise InvalidArgumentError(
            "give exactly one of --webhook URL, --email-to ADDRESSES or --log"
        )
    if webhook is not None:
        kind, config = "webhook", {"url": webhook, "format": fmt}
    elif email_to is not None:
        kind = "email"
        config = {
            k: v
            for k, v in {
                "to": email_to,
                "host": smtp_host,
                "port": smtp_port,
                "sender": sender,
                "starttls": starttls or None,
                "username": username,
                "password_env": password_env,
            }.items()
            if v is not None
        }
    else:
        kind, config = "log", {}
    notifier = _client(create=True).add_notifier(
        name, kind, config, min_severity=min_severity, deployment=deployment
    )
    console().print(f"Notifier [bold]{escape(notifier.name)}[/bold] ({notifier.kind}) added.")


@notifiers.command("remove")
def notifiers_remove(name: str = typer.Argument(...)) -> None:
    mon = _client()
    mon.store.alerts.remove_notifier(mon.project_id, name)
    console().print(f"Notifier {escape(name)} removed.")


@notifiers.command("test")
def notifiers_test(name: str = typer.Argument(...)) -> None:
    """Send a test message through a notifier now."""
    from keel.monitoring import send_test

    mon = _client()
    notifier = mon.store.alerts.get_notifier(mon.project_id, name)
    send_test(notifier)
    console().print(f"Test message sent through {escape(name)}.")
