"""The ``keel`` command line: a lazily loaded group of Typer apps, one module per group.

Each group module is imported only when its command runs, so ``keel --help`` stays fast.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

#: command name -> (module holding a Typer ``app``, one-line help shown by ``keel --help``)
COMMANDS: dict[str, tuple[str, str]] = {
    "quickstart": ("keel.cli.quickstart", "Run the end-to-end tour on a real dataset."),
    "experiments": ("keel.cli.experiments", "List, create, rename and delete experiments."),
    "runs": ("keel.cli.runs", "List, search, show and compare runs."),
    "artifacts": ("keel.cli.artifacts", "List, download and upload run artifacts."),
    "datasets": ("keel.cli.datasets", "Version datasets, show profiles, diff versions."),
    "db": ("keel.cli.db", "Upgrade or inspect the metadata database."),
    "gc": ("keel.cli.gc", "Delete blobs that nothing references any more."),
}


class LazyGroup(click.Group):
    """A click group that imports a command's module only when that command is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        import typer.main

        module = importlib.import_module(COMMANDS[cmd_name][0])
        command: click.Command = typer.main.get_command(module.app)  # type: ignore[assignment]
        command.name = cmd_name
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_) for name, (_mod, help_) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="keel", prog_name="keel")
def cli() -> None:
    """keel: track experiments, version data, and change models with confidence.

    Data lives under KEEL_HOME (default ./.keel) unless KEEL_DB_URI / KEEL_ARTIFACTS_URI
    point elsewhere. Start with `keel quickstart`.
    """


def main(argv: list[str] | None = None) -> Any:
    from keel.cli._render import run_cli

    return run_cli(cli, argv if argv is not None else sys.argv[1:])
