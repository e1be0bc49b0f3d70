"""`keel quickstart` runs end to end on the embedded default, as a newcomer runs it; then every
command it suggests under "Try next" is run for real on the store it left behind; every `keel`
command in README.md and in the web UI's hints is checked against the real CLI grammar; every
keel call in README.md's Python blocks and the UI's Python hints is bound to the real signature,
and the UI's Python hints are run."""

from __future__ import annotations

import ast
import html
import importlib
import inspect
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import keel
from keel.config import Settings
from keel.quickstart._tour import NEXT_STEPS
from keel.store import open_store

ROOT = Path(__file__).resolve().parents[1]
KEEL = [sys.executable, "-m", "keel.cli"]


@dataclass
class Tour:
    cwd: Path
    env: dict[str, str]
    stdout: str


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory) -> Tour:
    cwd = tmp_path_factory.mktemp("tour")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    env["COLUMNS"] = "120"
    first = subprocess.run(
        [*KEEL, "quickstart", "--fast"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert first.returncode == 0, first.stderr[-3000:]
    return Tour(cwd, env, first.stdout)


def test_quickstart_tours_the_product(tour: Tour) -> None:
    assert "breast-cancer@1" in tour.stdout
    assert "Explored" in tour.stdout and "strongest links to the target" in tour.stdout
    report = tour.cwd / ".keel" / "reports" / "explore-breast-cancer.html"
    assert 10_000 < report.stat().st_size < 5_000_000 and "Target: target" in report.read_text()
    assert "Best candidate" in tour.stdout and "Try next" in tour.stdout
    home = tour.cwd / ".keel"  # the default KEEL_HOME is ./.keel
    store = open_store(Settings.for_home(home))
    project = store.projects.get("default")
    exp = store.experiments.get_by_name(project.id, "quickstart-breast-cancer")
    runs = store.runs.search([exp.id], "tags.quickstart = 'true'").runs
    assert len(runs) >= 3 and all(r.metrics["auc"] > 0.9 for r in runs)
    assert "it is in the shared store" in tour.stdout  # team mode: the SDK over keel server
    team = store.experiments.get_by_name(project.id, "quickstart-team")
    shared = store.runs.search([team.id], "attributes.run_name = 'colleague-run'").runs
    assert [r.metrics["auc"] for r in shared] == [0.97]
    # the colleague's pipeline ran in worker processes over the server: prepare came from the
    # cache this machine's training run filled, baseline ran and logged into its step run
    (team_run,) = store.pipeline_runs.list(project.id, pipeline="team_baseline")
    assert (team_run.runner, team_run.status) == ("processes", "FINISHED"), team_run
    steps = {s.node: s for s in store.pipeline_runs.steps(team_run.id)}
    assert {n: s.status.value for n, s in steps.items()} == {
        "prepare": "cached",
        "baseline": "ran",
    }
    baseline_run = store.runs.get(steps["baseline"].run_id or "")
    assert baseline_run.metrics["auc"] > 0.9
    # it ends with a comparison report of its candidates: written, stored, found
    assert "Review the candidates" in tour.stdout.split("Step ")[-1]
    markdown = (home / "report.md").read_text()
    assert markdown.startswith("<!-- keel-report -->") and "| auc ↑ |" in markdown
    assert "<h2>Metrics</h2>" in (home / "report.html").read_text()
    [stored] = store.reports.list(project.id)
    assert stored.title == "Champion vs the quickstart candidates" and stored.markdown == markdown
    store.close()


def test_quickstart_again_reuses_the_data_version(tour: Tour) -> None:
    second = subprocess.run(
        [*KEEL, "quickstart", "--fast"],
        cwd=tour.cwd,
        env=tour.env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert second.returncode == 0, second.stderr[-3000:]
    assert "breast-cancer@1" in second.stdout  # same data: no new dataset version


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def started(tour: Tour) -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _wait_http(url: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{proc.args} exited with {proc.returncode}"
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} never answered")


def test_every_try_next_command_runs(tour: Tour, started: list[subprocess.Popen[str]]) -> None:
    """Each suggestion is pasted as printed; long-running ones are started and probed."""
    printed = re.sub(r"\s+", " ", tour.stdout)
    store = open_store(Settings.for_home(tour.cwd / ".keel"))
    project = store.projects.get("default")
    exp = store.experiments.get_by_name(project.id, "quickstart-breast-cancer")
    run_ids = [r.info.id for r in store.runs.search([exp.id]).runs[:2]]
    store.close()
    for line in NEXT_STEPS:
        command = line.split("    #")[0].strip()
        assert command.split(" &")[0] in printed, f"not printed as shown: {command}"
        if command.startswith("keel server &"):
            port = _free_port()
            server = subprocess.Popen(
                [*KEEL, "server", "--port", str(port)], cwd=tour.cwd, env=tour.env, text=True
            )
            started.append(server)
            _wait_http(f"http://127.0.0.1:{port}/api/v1/health", server)
            env = {**tour.env, "KEEL_SERVER_URL": f"http://127.0.0.1:{port}"}
            client = shlex.split(command.split("&", 1)[1])  # KEEL_SERVER_URL=... keel ...
            assert client[1] == "keel"
            out = subprocess.run(
                [*KEEL, *client[2:]],
                cwd=tour.cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert out.returncode == 0 and "breast-cancer-classifier" in out.stdout, out.stderr
            continue
        args = shlex.split(command.replace("<run-id> <run-id>", " ".join(run_ids)))[1:]
        if args[0] in ("serve", "ui"):
            port = _free_port()
            args = [a for a in args if a not in ("--port", "8080")] + ["--port", str(port)]
            proc = subprocess.Popen([*KEEL, *args], cwd=tour.cwd, env=tour.env, text=True)
            started.append(proc)
            probe = "/v2/health/ready" if args[0] == "serve" else "/ui/"
            _wait_http(f"http://127.0.0.1:{port}{probe}", proc)
            continue
        out = subprocess.run(
            [*KEEL, *args], cwd=tour.cwd, env=tour.env, capture_output=True, text=True, timeout=300
        )
        assert out.returncode == 0, f"`{command}` failed:\n{out.stderr[-2000:]}"
        assert "Traceback" not in out.stderr


def _keel_commands(text: str) -> list[str]:
    """`keel ...` commands in shell snippets: comments dropped, chains and `&` split."""
    commands = []
    for raw in text.splitlines():
        line = raw.split(" #")[0].strip()
        for part in re.split(r"\s(?:\|\||&&|&|\|)\s", line):
            part = re.sub(r"^(?:[A-Z_]+=\S+\s+)+", "", part.strip())  # VAR=value keel ...
            if part.startswith("keel ") or part == "keel":
                commands.append(part)
    return commands


def _readme_snippets() -> tuple[list[str], list[str]]:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```(\w*)\n(.*?)```", text, re.S)
    shell = [
        cmd for lang, body in blocks if lang in ("bash", "sh", "") for cmd in _keel_commands(body)
    ]
    python = [body for lang, body in blocks if lang == "python"]
    return shell, python


def _ui_hints() -> tuple[list[str], list[str]]:
    shell, python = [], []
    for page in (ROOT / "src/keel/server/ui/templates").glob("*.html"):
        for code in re.findall(r"<code>(.*?)</code>", page.read_text(), re.S):
            code = html.unescape(code)
            if re.match(r"keel\.[\w.]+\(", code):  # a Python call such as keel.log_model(...)
                python.append(code)
            else:  # shell commands; anything else (a tag name, say) holds no command
                shell.extend(_keel_commands(code))
    return shell, python


def test_every_documented_command_parses(tmp_path: Path) -> None:
    """A wrong option or subcommand in the README or a UI hint fails here, not for a reader."""
    readme_shell, readme_python = _readme_snippets()
    ui_shell, ui_python = _ui_hints()
    assert len(readme_shell) > 40 and ui_shell, "the snippet extraction lost the commands"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    env["KEEL_HOME"] = str(tmp_path / "home")
    failures = []
    for command in sorted(set(readme_shell + ui_shell)):
        args = shlex.split(command)[1:]
        out = subprocess.run(
            [*KEEL, *args, "--help"], env=env, capture_output=True, text=True, timeout=120
        )
        if out.returncode != 0 or not out.stdout.startswith("Usage: keel"):
            failures.append(f"{command}: {(out.stderr or out.stdout).strip().splitlines()[-1:]}")
    for snippet in readme_python + ui_python:
        compile(snippet, "<docs>", "exec")  # a syntax error in a snippet fails here
    assert not failures, "\n".join(failures)


def _documented_calls(snippet: str) -> list[tuple[str, ast.Call]]:
    """Calls to keel's API in a snippet: ``keel.name(...)`` and names imported from keel."""
    tree = ast.parse(textwrap.dedent(snippet))
    imported = {
        alias.asname or alias.name: f"{node.module}:{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "keel"
        for alias in node.names
    }
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            if func.value.id == "keel":
                calls.append((f"keel:{func.attr}", node))
        elif isinstance(func, ast.Name) and func.id in imported:
            calls.append((imported[func.id], node))
    return calls


def _binding_error(target: str, call: ast.Call) -> str | None:
    module, name = target.split(":")
    func = getattr(importlib.import_module(module), name, None)
    if func is None:
        return f"{module}.{name} does not exist"
    if any(isinstance(a, ast.Starred) for a in call.args) or any(
        k.arg is None for k in call.keywords
    ):
        return None  # *args / **kwargs: the arity is not known from the text
    try:
        inspect.signature(func).bind(*call.args, **{k.arg: k.value for k in call.keywords if k.arg})
    except TypeError as e:
        return f"{ast.unparse(call)[:90]}: {e}"
    return None


def test_every_documented_python_call_fits_the_api() -> None:
    """A keel call in a README block or a UI hint with a missing or unknown argument (a hint
    without input_example, say) fails here: each call is bound to the real signature."""
    _shell, readme_python = _readme_snippets()
    _shell, ui_python = _ui_hints()
    calls = [c for snippet in readme_python + ui_python for c in _documented_calls(snippet)]
    assert len(calls) > 15 and any(t == "keel:log_model" for t, _c in calls), calls
    errors = [e for target, call in calls if (e := _binding_error(target, call))]
    assert errors == [], "\n".join(errors)


def test_the_ui_python_hints_run(tmp_path: Path) -> None:
    """Each Python hint of the UI, pasted into a run with a model and its data at hand."""
    _shell, hints = _ui_hints()
    assert hints, "the hint extraction lost the Python hints"
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0] * 5, "b": [1.0, 0.0, 1.0, 0.5] * 5})
    model = LogisticRegression().fit(X, [0, 1, 0, 1] * 5)
    keel.init(home=tmp_path / "home")
    for hint in hints:
        code = compile(hint, "<ui hint>", "exec")
        if "start_run(" in hint:  # a hint that starts the run itself
            exec(code, {"keel": keel})
            keel.end_run()
            continue
        with keel.start_run(experiment="hints", capture_env=False):
            exec(code, {"keel": keel, "model": model, "X": X})
    store = open_store(Settings.for_home(tmp_path / "home"))
    try:
        project = store.projects.get("default")
        assert [m.name for m in store.registry.list_models(project.id)] == ["name"]
    finally:
        store.close()
