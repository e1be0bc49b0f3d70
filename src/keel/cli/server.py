"""``keel server``: serve the REST and MLflow APIs; manage users, tokens and project roles.

``keel server`` alone starts the server. The ``users``, ``tokens`` and ``roles`` commands
work directly on the server's database (run them where the server runs).
"""

import dataclasses
import time
from typing import TYPE_CHECKING

import typer

from keel.cli import _context
from keel.cli._options import JSON
from keel.cli._render import console, fmt_time, listing, print_json, print_table

if TYPE_CHECKING:
    from keel.store import Store

app = typer.Typer(
    help="Run the keel server (REST API + MLflow-compatible API); manage users and tokens.",
    invoke_without_command=True,
)
users_app = typer.Typer(help="Create, list and change user accounts.", no_args_is_help=True)
tokens_app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)
roles_app = typer.Typer(help="Grant project roles (reader, writer, admin).", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(roles_app, name="roles")


@app.callback()
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(5000, "--port", "-p", min=0, max=65535, help="Port to listen on."),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="Worker processes."),
    auth: bool = typer.Option(False, "--auth/--no-auth", help="Require a token or password."),
    insecure: bool = typer.Option(
        False, "--insecure", help="Allow a non-loopback address without --auth."
    ),
    allowed_host: list[str] = typer.Option(
        [], "--allowed-host", help="Host header to accept (repeatable; '*' for any)."
    ),
    max_body_mb: int = typer.Option(32, "--max-body-mb", min=1, help="Cap on JSON bodies."),
    project: str = typer.Option(
        "default", "--default-project", help="Project served at the root URL."
    ),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve /api/v1 and the MLflow API (MLFLOW_TRACKING_URI=http://HOST:PORT)."""
    if ctx.invoked_subcommand is not None:
        return
    from keel.server import ServerOptions
    from keel.server import serve as run_server

    base = ServerOptions()
    hosts = tuple(allowed_host) or (*base.allowed_hosts, host)
    options = dataclasses.replace(
        base,
        auth=auth,
        allowed_hosts=hosts,
        max_body_bytes=max_body_mb << 20,
        default_project=project,
    )
    settings = dataclasses.replace(_context.settings(), server_url=None, token=None)
    mode = "authentication on" if auth else "authentication OFF"
    console().print(f"keel server on http://{host}:{port} ({mode}); Ctrl+C stops it")
    run_server(
        settings,
        options,
        host=host,
        port=port,
        workers=workers,
        insecure=insecure,
        log_level=log_level,
    )


def _store() -> "Store":
    from keel.store import open_store

    return open_store(dataclasses.replace(_context.settings(), server_url=None, token=None))


@users_app.command("create")
def users_create(
    name: str = typer.Argument(..., help="User name."),
    admin: bool = typer.Option(False, "--admin", help="Make the user a keel administrator."),
    password: bool = typer.Option(
        False, "--password", help="Prompt for a password (else sign in with tokens only)."
    ),
    token: bool = typer.Option(True, "--token/--no-token", help="Also create a first token."),
) -> None:
    """Create a user; its first token is printed once and never again."""
    secret_pw = (
        typer.prompt("password", hide_input=True, confirmation_prompt=True) if password else None
    )
    store = _store()
    user = store.users.create_user(name, password=secret_pw, is_admin=admin)
    console().print(f"created user {user.name}{' (admin)' if admin else ''}")
    if token:
        _, secret = store.users.create_token(user.id, "first token")
        console().print(f"token (shown once, keep it safe): [bold]{secret}[/bold]")


@users_app.command("list")
def users_list(json_: bool = JSON) -> None:
    users = _store().users.list_users()
    if json_:
        print_json(users)
        return
    rows = [
        [
            u.name,
            "yes" if u.is_admin else "",
            "yes" if u.is_active else "no",
            fmt_time(u.created_at),
        ]
        for u in users
    ]
    print_table("users", ["name", "admin", "active", "created"], rows, empty="no users yet")


@users_app.command("disable")
def users_disable(name: str = typer.Argument(..., help="User name.")) -> None:
    """Stop a user from signing in (their tokens stop working too)."""
    _store().users.update_user(name, is_active=False)
    console().print(f"disabled {name}")


@tokens_app.command("create")
def tokens_create(
    user: str = typer.Argument(..., help="User the token acts as."),
    name: str = typer.Option("token", "--name", "-n", help="What the token is for."),
    expires_days: int = typer.Option(0, "--expires-days", min=0, help="0 means never."),
) -> None:
    """Create a token, printed once: use it as KEEL_TOKEN or MLFLOW_TRACKING_TOKEN."""
    store = _store()
    expires = int(time.time() * 1000) + expires_days * 86_400_000 if expires_days else None
    _, secret = store.users.create_token(store.users.get_user(user).id, name, expires_at=expires)
    console().print(secret)


@tokens_app.command("list")
def tokens_list(user: str = typer.Argument(..., help="User name."), json_: bool = JSON) -> None:
    store = _store()
    tokens = store.users.list_tokens(store.users.get_user(user).id)
    if json_:
        print_json(tokens)
        return
    rows = [
        [
            t.id,
            t.name,
            t.prefix + "...",
            fmt_time(t.created_at),
            fmt_time(t.last_used_at),
            "yes" if t.revoked else "",
        ]
        for t in tokens
    ]
    print_table(
        f"tokens of {user}", ["id", "name", "starts", "created", "last used", "revoked"], rows
    )


@tokens_app.command("revoke")
def tokens_revoke(token_id: int = typer.Argument(..., help="Token id (see tokens list).")) -> None:
    _store().users.revoke_token(token_id)
    console().print(f"revoked token {token_id}")


@roles_app.command("set")
def roles_set(
    project: str = typer.Argument(..., help="Project name."),
    user: str = typer.Argument(..., help="User name."),
    role: str = typer.Argument(..., help="reader, writer or admin."),
) -> None:
    from keel.store.users import parse_role

    store = _store()
    user_id, checked = store.users.get_user(user).id, parse_role(role)  # before the project
    m = store.users.set_role(store.projects.get_or_create(project).id, user_id, checked)
    console().print(f"{m.user_name} is now {m.role.value} in {project}")


@roles_app.command("list")
def roles_list(
    project: str = typer.Argument(..., help="Project name."), json_: bool = JSON
) -> None:
    store = _store()
    members = store.users.members(store.projects.get(project).id)
    listing(
        members,
        json_,
        f"members of {project}",
        ["user", "role"],
        lambda m: [m.user_name, m.role.value],
    )


@roles_app.command("remove")
def roles_remove(
    project: str = typer.Argument(..., help="Project name."),
    user: str = typer.Argument(..., help="User name."),
) -> None:
    store = _store()
    store.users.remove_member(store.projects.get(project).id, store.users.get_user(user).id)
    console().print(f"removed {user} from {project}")
