"""Every command, given a bad argument, answers with a one-line error and a non-zero exit code.

The table below has one bad invocation per command of the CLI; the first test proves it covers
every command there is (a new command without a case fails it), the second runs each case
through the same top-level handler as ``keel`` and checks: exit code 1, 2 or 3, a short message
that says what was wrong, no traceback, nothing long-running started.
"""

from __future__ import annotations

import importlib
import io
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest

import keel
import keel.cli
from keel.cli import _render

NOSUCH = "no-such-thing"
MISSING_FILE = "/nonexistent/keel/file.csv"

#: command path -> (bad arguments, a phrase the one-line error must contain)
CASES: dict[str, tuple[list[str], str]] = {
    "quickstart": (["--no-such-option"], "No such option"),
    "projects list": (["--project", ""], "--project is empty"),
    "experiments list": (["--max", "x"], "No such option"),
    "experiments create": ([""], "name"),
    "experiments rename": ([NOSUCH, "other"], NOSUCH),
    "experiments delete": ([NOSUCH], NOSUCH),
    "experiments restore": ([NOSUCH], NOSUCH),
    "runs list": (["--order-by", "metrics.auc SIDEWAYS"], "sort direction"),
    "runs search": (["metrics.auc >>> 1"], "filter"),
    "runs show": ([NOSUCH], NOSUCH),
    "runs history": (["{run}", "no_such_metric"], "no_such_metric"),
    "runs compare": ([NOSUCH, NOSUCH], NOSUCH),
    "runs note": ([NOSUCH, "text"], NOSUCH),
    "runs tag": ([NOSUCH, "k", "v"], NOSUCH),
    "runs delete": ([NOSUCH], NOSUCH),
    "runs end": (["{run}", "--status", "BOGUS"], "BOGUS"),
    "artifacts list": ([NOSUCH], NOSUCH),
    "artifacts download": ([NOSUCH], NOSUCH),
    "artifacts upload": (["{run}", MISSING_FILE], MISSING_FILE),
    "datasets add": ([NOSUCH, MISSING_FILE], MISSING_FILE),
    "datasets list": (["--bogus"], "No such option"),
    "datasets versions": ([NOSUCH], NOSUCH),
    "datasets show": ([f"{NOSUCH}@3"], NOSUCH),
    "datasets diff": ([f"{NOSUCH}@1", f"{NOSUCH}@2"], NOSUCH),
    "datasets status": ([NOSUCH, MISSING_FILE], NOSUCH),
    "datasets checkout": ([f"{NOSUCH}@1", "out"], NOSUCH),
    "models list": (["--min-metric", "auc"], "auc"),
    "models show": (["churn@@x"], "churn@@x"),
    "models history": ([NOSUCH], NOSUCH),
    "models download": ([f"{NOSUCH}@1"], NOSUCH),
    "models promote": ([f"{NOSUCH}@1", "champion"], NOSUCH),
    "models rename": ([NOSUCH, "other"], NOSUCH),
    "models delete": ([NOSUCH], NOSUCH),
    "models import": ([MISSING_FILE, "--name", "m"], MISSING_FILE),
    "models register": ([NOSUCH, "--name", "m"], NOSUCH),
    "models reproduce": ([f"{NOSUCH}@1"], NOSUCH),
    "models verify": ([MISSING_FILE], MISSING_FILE),
    "models scan": ([MISSING_FILE], MISSING_FILE),
    "keys generate": (["--bogus"], "No such option"),
    "keys list": (["--bogus"], "No such option"),
    "keys export": (["--bogus"], "No such option"),
    "keys trust": (["not a key"], "key"),
    "keys untrust": ([NOSUCH], NOSUCH),
    "keys sign": ([MISSING_FILE], MISSING_FILE),
    "keys verify": ([MISSING_FILE], MISSING_FILE),
    "serve": ([f"{NOSUCH}@champion", "--port", "0"], NOSUCH),
    "deploy apply": ([MISSING_FILE], MISSING_FILE),
    "deploy list": (["--bogus"], "No such option"),
    "deploy show": ([NOSUCH], NOSUCH),
    "deploy history": ([NOSUCH], NOSUCH),
    "deploy rollback": ([NOSUCH, "1"], NOSUCH),
    "deploy delete": ([NOSUCH], NOSUCH),
    "deploy export": (["--file", MISSING_FILE], MISSING_FILE),
    "predict": ([f"{NOSUCH}@1", "--input", MISSING_FILE, "--output", "out.csv"], NOSUCH),
    "stream": ([f"{NOSUCH}@1", "--source", "in", "--sink", "out"], "redis://"),
    "predictions sql": (["DROP TABLE predictions"], "SELECT"),
    "monitor set": ([NOSUCH, "--alpha", "7"], "alpha"),
    "monitor reference": (["--model", f"{NOSUCH}@1"], NOSUCH),
    "monitor list": (["--bogus"], "No such option"),
    "monitor show": ([NOSUCH], NOSUCH),
    "monitor run": ([NOSUCH, "--window", "soon"], "soon"),
    # (and `--fail-on` is checked before any window runs: see test_monitor_run_checks_fail_on_first)
    "monitor report": ([NOSUCH, "--window", "soon"], "soon"),
    "monitor compare": ([NOSUCH], NOSUCH),
    "monitor drift": ([MISSING_FILE, MISSING_FILE], MISSING_FILE),
    "monitor delete": ([NOSUCH], NOSUCH),
    "feedback add": ([NOSUCH, "req-1", "1"], "unknown request id"),
    "feedback import": ([NOSUCH, MISSING_FILE], MISSING_FILE),
    "feedback list": ([NOSUCH, "--limit", "-1"], "limit"),
    "alerts list": (["--state", "sleepy"], "sleepy"),
    "alerts show": (["999999"], "999999"),
    "alerts ack": (["999999"], "999999"),
    "alerts resolve": (["999999"], "999999"),
    "alerts deliver": (["--timeout", "soon"], "soon"),
    "alerts notifiers list": (["--bogus"], "No such option"),
    "alerts notifiers add": (["n", "--webhook", "ftp://example.com/x"], "ftp"),
    "alerts notifiers remove": ([NOSUCH], NOSUCH),
    "alerts notifiers test": ([NOSUCH], NOSUCH),
    "sql": (["DELETE FROM runs"], "SELECT"),
    "db upgrade": (["--bogus"], "No such option"),
    "db status": (["--bogus"], "No such option"),
    "gc": (["--grace-hours", "soon"], "soon"),
    "server": (["--port", "http"], "http"),
    "server users create": ([""], "name"),
    "server users list": (["--bogus"], "No such option"),
    "server users disable": ([NOSUCH], NOSUCH),
    "server tokens create": ([NOSUCH], NOSUCH),
    "server tokens list": ([NOSUCH], NOSUCH),
    "server tokens revoke": (["999999"], "999999"),
    "server roles set": (["default", NOSUCH, "emperor"], NOSUCH),
    "server roles list": ([NOSUCH], NOSUCH),
    "server roles remove": (["default", NOSUCH], NOSUCH),
    "ui": (["--port", "70000"], "70000"),
    "pipeline run": (["nosuch_module.py:train"], "nosuch_module.py"),
    "pipeline show": (["nosuch_module.py:train"], "nosuch_module.py"),
    "pipeline params": (["nosuch_module.py:train"], "nosuch_module.py"),
    "pipeline runs": (["--limit", "many"], "many"),
    "pipeline inspect": ([NOSUCH], NOSUCH),
    "pipeline cache": (["--bogus"], "No such option"),
    "schedule add": (["s", "--pipeline", "p.py:p", "--cron", "every tuesday"], "p.py"),
    "schedule list": (["--bogus"], "No such option"),
    "schedule remove": ([NOSUCH], NOSUCH),
    "schedule enable": ([NOSUCH], NOSUCH),
    "schedule disable": ([NOSUCH], NOSUCH),
    "schedule fires": ([NOSUCH], NOSUCH),
    "schedule status": (["--bogus"], "No such option"),
    "scheduler": (["--interval", "-1"], "interval"),
    "automl": (["--data", f"{NOSUCH}@1", "--target", "y", "--budget", "soon"], "soon"),
    "datasets explore": ([f"{NOSUCH}@1"], NOSUCH),
    "datasets training-set": (
        ["t", "--entities", MISSING_FILE, "--features", MISSING_FILE],
        "file",
    ),
    "label check": ([NOSUCH], NOSUCH),
    "label create": (["p", "--kind", "telepathy"], "telepathy"),
    "label export": ([NOSUCH], NOSUCH),
    "label feedback": ([NOSUCH, "--deployment", NOSUCH], NOSUCH),
    "label import": ([NOSUCH, MISSING_FILE], MISSING_FILE),
    "label relabel": ([NOSUCH], NOSUCH),
    "label sample": ([NOSUCH, "--deployment", NOSUCH, "--strategy", "psychic"], NOSUCH),
    "label status": (["--bogus"], "No such option"),
    "report compare": (["--base", f"run:{NOSUCH}", "--head", f"run:{NOSUCH}"], NOSUCH),
    "report list": (["--limit", "many"], "many"),
    "report post": (["--md", MISSING_FILE], MISSING_FILE),
    "report show": (["999999"], "999999"),
    "roi": (
        [
            "--data",
            f"{NOSUCH}@1",
            "--target",
            "y",
            "--value-per-correct",
            "x",
            "--cost-per-error",
            "1",
            "--predictions-per-month",
            "1",
        ],
        "x",
    ),
    "search": (["churn", "--kind", "horoscope"], "horoscope"),
    "sweep list": (["--bogus"], "No such option"),
    "sweep promote": ([NOSUCH, "--name", "m"], NOSUCH),
    "sweep run": (["nosuch_module.py:objective", "--trials", "0"], "nosuch_module.py"),
    "sweep show": ([NOSUCH], NOSUCH),
    "synth fit": ([f"{NOSUCH}@1", "--method", "ctgan-xl"], "ctgan-xl"),
    "synth sample": ([NOSUCH, "-n", "10"], NOSUCH),
}


def _commands() -> Iterator[str]:
    """Every command a user can run: leaves, and groups that run on their own (`keel server`)."""

    def walk(cmd: Any, path: list[str]) -> Iterator[str]:
        subs = getattr(cmd, "commands", None)
        if subs is None or getattr(cmd, "invoke_without_command", False):
            yield " ".join(path)
        for name, sub in (subs or {}).items():
            yield from walk(sub, [*path, name])

    import typer.main

    for name, (module, _help) in keel.cli.COMMANDS.items():
        yield from walk(typer.main.get_command(importlib.import_module(module).app), [name])


def test_every_command_has_a_bad_argument_case() -> None:
    commands = set(_commands())
    assert commands - set(CASES) == set(), "commands without a bad-argument case"
    assert set(CASES) - commands == set(), "cases for commands that no longer exist"


def _invoke(argv: list[str]) -> tuple[int, str]:
    """``keel <argv>`` through the CLI's own top-level handler, in this process."""
    out, err = io.StringIO(), io.StringIO()
    _render._console = _render._err = None  # Rich consoles bind the streams they were made on
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                keel.cli.main(argv)
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        _render._console = _render._err = None
    return code, out.getvalue() + err.getvalue()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    home = tmp_path_factory.mktemp("bad-args") / "keel-home"
    keel.init(home=home)
    with keel.start_run(experiment="bad-args", capture_env=False) as run:
        run.log_metric("auc", 0.9)
    return home, run.id


@pytest.fixture
def in_seeded(seeded: tuple[Path, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """The seeded store as KEEL_HOME and a fresh working folder; the seeded run's id."""
    monkeypatch.setenv("KEEL_HOME", str(seeded[0]))
    monkeypatch.chdir(tmp_path)
    return seeded[1]


def _check_one_line_error(argv: list[str], phrase: str) -> None:
    """``keel <argv>`` fails with a short error that says ``phrase``, never a traceback."""
    code, output = _invoke(argv)
    assert code in (1, 2, 3), f"keel {' '.join(argv)} exited {code}:\n{output}"
    assert "Traceback" not in output, output
    assert phrase.lower() in output.lower(), f"the error does not say what was wrong:\n{output}"
    assert len(output.strip().splitlines()) <= 6, output


@pytest.mark.parametrize("command", sorted(CASES))
def test_bad_argument_gets_a_one_line_error(command: str, in_seeded: str) -> None:
    args, phrase = CASES[command]
    _check_one_line_error(
        [*command.split(), *(a.replace("{run}", in_seeded) for a in args)], phrase
    )


def test_monitor_run_checks_fail_on_first(
    seeded: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEEL_HOME", str(seeded[0]))
    code, output = _invoke(["monitor", "run", "--due", "--fail-on", "catastrophic"])
    assert code == 2 and "catastrophic" in output and "Traceback" not in output, output


#: more bad options of commands that already have a case above: argv -> phrase
MORE_CASES: list[tuple[list[str], str]] = [
    (["label", "create", "shares", "--labels", "a,b", "--double-share", "1.5"], "between 0 and 1"),
    (["label", "create", "shares", "--labels", "a,b", "--double-share", "-0.1"], "double share"),
    (["monitor", "set", "churn", "--label-project", NOSUCH], NOSUCH),
    (["monitor", "set", "churn", "--label-project", "p", "--label-strategy", "psychic"], "psychic"),
    (["monitor", "set", "churn", "--label-n", "5"], "needs a labeling project"),
    # a name, not a reference: '@' is refused as such (not read as a version 'b')
    (["datasets", "add", "a@b", MISSING_FILE], "dataset name 'a@b' contains '@'"),
    (["serve", "m@1", "--port", "99999"], "99999 is not in the range"),
    (["serve", "m@1", "--concurrency", "0"], "concurrency: input should be greater than"),
    (["serve", "m@1", "--workers", "0"], "0 is not in the range"),
    (["server", "--port", "-1"], "-1 is not in the range"),
    # the option that gives the missing setting, as `notifiers add` spells it
    (["alerts", "notifiers", "add", "n", "--email-to", "a@example.com"], "--smtp-host"),
    (["alerts", "notifiers", "add", "n", "--email-to", "a@b.c", "--smtp-host", "h"], "--sender"),
    # a floor alpha never reaches would open an alert on every check
    (["label", "check", NOSUCH, "--min-alpha", "7"], "alpha floor 7 must be between -1 and 1"),
    (["label", "check", NOSUCH, "--min-tasks", "0"], "min_tasks must be at least 1"),
    # an empty path is refused, not read as '.' (the current folder)
    (["datasets", "add", "x", ""], "invalid value for 'path': the path is empty"),
    (["datasets", "checkout", f"{NOSUCH}@1", ""], "invalid value for 'dest': the path is empty"),
    # counts below 1 are refused, not passed on (SQLite reads LIMIT -1 as no limit)
    (["alerts", "list", "--limit", "-1"], "-1 is not in the range x>=1"),
    (["pipeline", "runs", "--limit", "-1"], "-1 is not in the range x>=1"),
    (["report", "list", "--limit", "0"], "0 is not in the range x>=1"),
    (["schedule", "fires", NOSUCH, "--limit", "-1"], "-1 is not in the range x>=1"),
    (["runs", "list", "--max-results", "-1"], "-1 is not in the range x>=1"),
    (["sql", "SELECT 1", "--max-rows", "-1"], "-1 is not in the range x>=1"),
    (["predictions", "sql", "SELECT 1", "--max-rows", "0"], "0 is not in the range x>=1"),
    # an aggregation method is one keel has, even where the format ignores it
    (["label", "export", NOSUCH, "--method", "bogus"], "'bogus' is not one of"),
    (["label", "feedback", NOSUCH, "-d", NOSUCH, "--method", "bogus"], "'bogus' is not one of"),
    # a task no model version has is said to be one, not 'no model versions match'
    (["models", "list", "--task", "bogus"], "no model version has task 'bogus'"),
    # a unique id prefix is enough, as for `keel runs show`: the run is found, its model is not
    (["models", "register", "{run8}", "--name", "m"], "has no model at 'model'"),
]


@pytest.mark.parametrize(("argv", "phrase"), MORE_CASES, ids=[" ".join(c[0]) for c in MORE_CASES])
def test_more_bad_options_get_a_one_line_error(
    argv: list[str], phrase: str, in_seeded: str
) -> None:
    _check_one_line_error([a.replace("{run8}", in_seeded[:8]) for a in argv], phrase)


def test_an_unknown_task_names_the_tasks_there_are(
    seeded: tuple[Path, str], in_seeded: str
) -> None:
    from keel.store.registry import NewVersion

    client = keel.init(home=seeded[0])
    store, project = client.store, client.project
    for name, task in (("task-churn", "classification"), ("task-price", "regression")):
        store.registry.create_model(project.id, name)
        store.registry.create_version(
            project.id, name, NewVersion("0" * 64, 1, "0" * 64, "sklearn", "sklearn", task)
        )
    code, output = _invoke(["models", "list", "--task", "regresion"])
    assert code == 2, output
    assert output.strip() == (
        "Error: no model version has task 'regresion'; the tasks here: classification, regression"
    )
    code, output = _invoke(["models", "list", "--task", "regression", "--name", "task-churn"])
    assert code == 0 and "no model versions match" in output, output


def test_the_label_methods_offered_are_keels() -> None:
    import typing

    from keel import labeling
    from keel.cli import label

    assert typing.get_args(label.Method) == labeling.METHODS


def test_an_output_path_that_cannot_be_written_gets_a_one_line_error(in_seeded: str) -> None:
    """An --out where no file can be made (here under a file) is the OS's reason and the
    path on one line, exit 2, not a traceback of the write that failed."""
    Path("rows.csv").write_text("a,b\n1,2\n3,4\n")
    code, output = _invoke(["datasets", "explore", "rows.csv", "--out", "rows.csv/report.html"])
    assert code == 2, output
    assert output.strip() == "Error: Not a directory: 'rows.csv/report.html'"


ROI = ["roi", "--data", f"{NOSUCH}@1", "--target", "y", "--value-per-correct", "1"]
ROI += ["--cost-per-error", "1", "--predictions-per-month", "1"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        # checked before the data is read (here it does not exist) and the 30 s search runs
        ([*ROI, "--out", "rows.csv/roi.md"], "Error: Not a directory: 'rows.csv/roi.md'"),
        ([*ROI, "--out", "folder.md"], "Error: Is a directory: 'folder.md'"),
        (
            ["datasets", "explore", f"{NOSUCH}@1", "--out", "no/such/folder/r.html"],
            "Error: No such file or directory: 'no/such/folder/r.html'",
        ),
        (
            [
                "report",
                "compare",
                "--base",
                f"run:{NOSUCH}",
                "--head",
                "HEAD",
                "--md",
                "rows.csv/x",
            ],
            "Error: Not a directory: 'rows.csv/x'",
        ),
    ],
    ids=["roi under a file", "roi a folder", "explore missing folder", "report compare md"],
)
def test_an_output_path_is_checked_before_the_work(
    argv: list[str], message: str, in_seeded: str
) -> None:
    Path("rows.csv").write_text("a,b\n1,2\n")
    Path("folder.md").mkdir()
    code, output = _invoke(argv)
    assert code in (2, 3) and output.strip() == message, output


#: files that do not parse: (file name, its text, argv) -> the one-line error names the problem
#: and where it is, not PyYAML's excerpt of the text with a caret
BROKEN_YAML = "name: [churn\n"
YAML_CASES: list[list[str]] = [
    ["deploy", "apply", "broken.yaml"],
    ["pipeline", "run", "flow.py:flow", "--params", "broken.yaml"],
    ["sweep", "run", "flow.py:objective", "--space", "broken.yaml", "--trials", "1"],
]


@pytest.mark.parametrize("argv", YAML_CASES, ids=[" ".join(a[:2]) for a in YAML_CASES])
def test_a_yaml_file_that_does_not_parse_gets_a_one_line_error(
    argv: list[str], in_seeded: str
) -> None:
    Path("broken.yaml").write_text(BROKEN_YAML)
    Path("flow.py").write_text(
        "import keel\n\n@keel.pipeline\ndef flow(a: int = 1):\n    return a\n\n"
        "def objective(params):\n    return 1.0\n"
    )
    code, output = _invoke(argv)
    assert code == 2, output
    assert len(output.strip().splitlines()) == 1, output
    assert "is not valid YAML: expected ',' or ']'" in output and "line 2, column 1" in output
