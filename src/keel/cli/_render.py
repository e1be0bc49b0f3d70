"""Shared rendering for CLI commands: Rich tables for people, ``--json`` for scripts."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import math
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from keel.exceptions import InvalidArgumentError, KeelError, NotFoundError

T = TypeVar("T")


def run_cli(cli: Any, argv: list[str]) -> Any:
    """Run the CLI, turning keel's errors into one red line and a non-zero exit code."""
    from typer._click.exceptions import ClickException
    from typer.exceptions import Abort, Exit

    try:
        code = cli.main(args=argv, prog_name="keel", standalone_mode=False)
    except (Abort, KeyboardInterrupt):
        err_console().print("[red]Aborted.[/red]")
        sys.exit(130)
    except ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except Exit as exc:
        sys.exit(exc.exit_code)
    except KeelError as exc:
        err_console().print(f"[bold red]Error:[/bold red] {escape(str(exc))}")
        code = (
            2
            if isinstance(exc, InvalidArgumentError)
            else 3
            if isinstance(exc, NotFoundError)
            else 1
        )
        sys.exit(code)
    except BrokenPipeError:
        raise
    except OSError as exc:  # a path the user gave: an --out folder missing, no permission
        err_console().print(f"[bold red]Error:[/bold red] {escape(_os_error(exc))}")
        sys.exit(_OS_ERROR_CODES.get(type(exc), 1))
    sys.exit(code if isinstance(code, int) else 0)


#: exit codes of the OS errors a bad path gives: 3 for a path that is not there, 2 for one
#: that cannot be used as given
_OS_ERROR_CODES: dict[type[OSError], int] = {
    FileNotFoundError: 3,
    PermissionError: 2,
    IsADirectoryError: 2,
    NotADirectoryError: 2,
    FileExistsError: 2,
}


def _os_error(exc: OSError) -> str:
    """``No such file or directory: '/out/report.html'``: what went wrong, and where."""
    what = exc.strerror or str(exc) or type(exc).__name__
    paths = [repr(str(p)) for p in (exc.filename, exc.filename2) if p is not None]
    return f"{what}: {' -> '.join(paths)}" if paths else what


def escape(text: str) -> str:
    from rich.markup import escape as _escape

    return _escape(text)


_console: Any = None
_err: Any = None


#: Width when output goes to a pipe or file: wide enough that no id, hash or command that a
#: reader pastes is ever folded across lines (Rich would otherwise assume 80 columns).
PIPED_WIDTH = 10_000


def _make_console(stderr: bool) -> Any:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # emoji=False: a run or model named ``a:fire:b`` prints as typed (and Rich's emoji table
    # is not loaded by every command).
    if stream.isatty():
        return Console(stderr=stderr, emoji=False)
    return Console(stderr=stderr, width=PIPED_WIDTH, soft_wrap=True, emoji=False)


def console() -> Any:
    global _console
    if _console is None:
        _console = _make_console(stderr=False)
    return _console


def err_console() -> Any:
    global _err
    if _err is None:
        _err = _make_console(stderr=True)
    return _err


def to_jsonable(obj: Any) -> Any:
    """Entities, enums, datetimes and NaN in a form ``json.dumps`` accepts."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, float) and (math.isnan(obj) or math.isinf(obj)):
        return None if math.isnan(obj) else ("Infinity" if obj > 0 else "-Infinity")
    if isinstance(obj, (dt.datetime, dt.date)):
        return obj.isoformat()
    return obj


def print_json(obj: Any) -> None:
    import json  # here: a table needs no JSON encoder

    sys.stdout.write(json.dumps(to_jsonable(obj), indent=2, default=str) + "\n")


def fmt_time(ms: int | None) -> str:
    if not ms:
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def fmt_value(v: Any) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return f"{v:.6g}"
    return "-" if v is None else str(v)


def print_table(
    title: str | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    empty: str = "nothing to show",
) -> None:
    from rich.table import Table

    table = Table(title=title, header_style="bold cyan", show_lines=False)
    for col in columns:
        table.add_column(col, overflow="fold")
    n = 0
    for row in rows:
        table.add_row(*(escape(fmt_value(v)) for v in row))
        n += 1
    if n == 0:
        console().print(f"[dim]{escape(empty)}[/dim]")
        return
    console().print(table)


def outcome(result: Any, as_json: bool, message: str) -> None:
    """A command's outcome: ``result`` as JSON with ``--json``, else the ``message``."""
    if as_json:
        print_json(result)
    else:
        console().print(message)


def listing(
    items: Sequence[T],
    as_json: bool,
    title: str | None,
    columns: Sequence[str],
    row: Callable[[T], Sequence[Any]],
    *,
    empty: str = "nothing to show",
) -> None:
    """A listing command's output: ``items`` as JSON with ``--json``, else a table of
    ``row(item)`` for each item."""
    if as_json:
        print_json(items)
    else:
        print_table(title, columns, map(row, items), empty=empty)


def progress(total: int | None, description: str) -> Any:
    """A Rich progress bar on stderr (hidden when stderr is not a terminal)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    prog = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console(),
        transient=True,
        disable=not sys.stderr.isatty(),
    )
    prog.add_task(description, total=total)
    return prog


def callback_progress(prog: Any) -> Callable[[int], None]:
    task = prog.tasks[0].id

    def advance(n: int = 1) -> None:
        prog.advance(task, n)

    return advance
