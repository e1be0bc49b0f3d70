"""The ``keel`` command line: a lazily loaded group of Typer apps, one module per group.

Each group module is imported only when its command runs, so ``keel --help`` stays fast.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer
import typer.main
from typer.core import TyperGroup
from typer.models import TyperPath

#: command name -> (module holding a Typer ``app``, one-line help shown by ``keel --help``)
COMMANDS: dict[str, tuple[str, str]] = {
    "quickstart": ("keel.cli.quickstart", "Run the end-to-end tour on a real dataset."),
    "projects": ("keel.cli.projects", "List the projects of the store."),
    "experiments": ("keel.cli.experiments", "List, create, rename and delete experiments."),
    "runs": ("keel.cli.runs", "List, search, show and compare runs."),
    "artifacts": ("keel.cli.artifacts", "List, download and upload run artifacts."),
    "datasets": ("keel.cli.datasets", "Version datasets, show profiles, diff versions."),
    "models": ("keel.cli.models", "Browse, promote, import and reproduce registered models."),
    "keys": ("keel.cli.keys", "Create the signing key; trust other signers' keys."),
    "serve": ("keel.cli.serve", "Serve models over HTTP (v2 protocol, /invocations)."),
    "deploy": ("keel.cli.deploy", "Apply deployment specs, roll back, export manifests."),
    "predict": ("keel.cli.predict", "Batch-predict a file, folder, query or dataset."),
    "stream": ("keel.cli.stream", "Score a Redis stream into another, at least once."),
    "predictions": ("keel.cli.predictions", "Query the prediction log with SQL."),
    "monitor": ("keel.cli.monitor", "Watch deployments: drift, performance, cohorts, reports."),
    "feedback": ("keel.cli.feedback", "Record ground-truth labels for logged predictions."),
    "alerts": ("keel.cli.alerts", "List, acknowledge and resolve alerts; manage notifiers."),
    "sql": ("keel.cli.sql", "Ad hoc SQL over predictions, feedback, alerts and metadata."),
    "db": ("keel.cli.db", "Upgrade or inspect the metadata database."),
    "gc": ("keel.cli.gc", "Delete blobs that nothing references any more."),
    "server": ("keel.cli.server", "Run the keel server; manage its users, tokens and roles."),
    "ui": ("keel.cli.ui", "Open the web UI for the local store (loopback only)."),
    "pipeline": ("keel.cli.pipeline", "Run pipelines, draw their DAG, list their runs."),
    "schedule": ("keel.cli.schedule", "Run pipelines on a cron schedule or a trigger."),
    "scheduler": ("keel.cli.scheduler", "Fire due schedules and triggers (long-running)."),
    "synth": ("keel.cli.synth", "Fit synthetic-data models; sample private, gated versions."),
    "report": ("keel.cli.report", "Compare git refs, runs or models for a merge request."),
    "search": ("keel.cli.search", "Search runs, notes, comments, reports, models, datasets."),
    "sweep": ("keel.cli.sweep", "Hyper-parameter sweeps on Optuna: run, list, show, promote."),
    "automl": ("keel.cli.automl", "Find the best model for a target within a time budget."),
    "roi": ("keel.cli.roi", "Estimate whether ML pays: baselines vs AutoML, value per month."),
    "label": ("keel.cli.label", "Label data: projects, agreement, Label Studio JSON, samples."),
}


class _NonEmptyPath(TyperPath):
    """A path that is not ``''`` (which ``Path`` would turn into ``.``)."""

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            self.fail("the path is empty; give a file or folder", param, ctx)
        return super().convert(value, param, ctx)


class LazyGroup(TyperGroup):
    """A group that imports a command's module only when that command is used."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        import typer.main

        module = importlib.import_module(COMMANDS[cmd_name][0])
        command = typer.main.get_command(module.app)
        command.name = cmd_name
        _plain_help(command)
        return command

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = [(name, help_) for name, (_mod, help_) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _plain_help(command: Any) -> None:
    """Every command as the lazy group loads it: click's plain help layout, one style for
    ``keel --help`` and every subcommand (Rich panels for the root would import every
    command module to list them); and on each leaf ``-P/--project`` and paths that refuse
    ``''``."""
    command.rich_markup_mode = None
    command.params = [
        p for p in command.params if p.name not in ("install_completion", "show_completion")
    ]
    subs = getattr(command, "commands", None)
    if subs is None:
        _with_project_option(command)
        _refuse_empty_paths(command)
    for sub in (subs or {}).values():
        _plain_help(sub)


def _with_project_option(command: Any) -> None:
    """``-P/--project`` on every command as well as on ``keel`` itself, so both
    ``keel -P churn runs list`` and ``keel runs list -P churn`` work (a command with its
    own ``--project``, as ``keel ui``, keeps it)."""
    from typer.core import TyperOption

    taken = {opt for p in command.params for opt in getattr(p, "opts", ())}
    if taken & {"-P", "--project"}:
        return
    command.params.append(
        TyperOption(
            param_decls=["--project", "-P"],
            type=str,
            metavar="NAME",
            expose_value=False,
            is_eager=True,
            callback=lambda _ctx, _param, value: _project(value),
            help="Project to work in (as `keel -P NAME ...`).",
        )
    )


def _refuse_empty_paths(command: Any) -> None:
    """Every path argument and option refuses ``''``: a path converts it to ``.``, so
    ``keel datasets add x ''`` versioned the current folder and ``keel datasets checkout
    REF ''`` wrote into it."""
    for p in command.params:
        t = p.type
        if type(t) is TyperPath:
            p.type = _NonEmptyPath(
                exists=t.exists,
                file_okay=t.file_okay,
                dir_okay=t.dir_okay,
                writable=t.writable,
                readable=t.readable,
                resolve_path=t.resolve_path,
                allow_dash=t.allow_dash,
                path_type=t.type,
            )


def _project(value: str | None) -> str | None:
    if value is not None:
        from keel.cli import _context

        _context.use_project(value)
    return value


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"keel {version('keel')}")
        raise typer.Exit()


def _build() -> Any:
    app = typer.Typer(
        cls=LazyGroup,
        rich_markup_mode=None,  # plain help: Rich help would import every command module
        add_completion=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @app.callback()
    def root(
        version: bool = typer.Option(
            False, "--version", callback=_version, is_eager=True, help="Show the version."
        ),
        project: str | None = typer.Option(
            None,
            "--project",
            "-P",
            callback=_project,
            metavar="NAME",
            help="Project to work in (default: $KEEL_PROJECT, else 'default').",
        ),
    ) -> None:
        """keel: track experiments, version data, and change models with confidence.

        Data lives under KEEL_HOME (default ./.keel) unless KEEL_DB_URI / KEEL_ARTIFACTS_URI
        point elsewhere. Start with `keel quickstart`; `keel -P churn runs list` (or
        `keel runs list -P churn`) works in project churn.
        """

    return typer.main.get_command(app)


cli = _build()


def main(argv: list[str] | None = None) -> Any:
    from keel.cli._render import run_cli

    return run_cli(cli, argv if argv is not None else sys.argv[1:])
