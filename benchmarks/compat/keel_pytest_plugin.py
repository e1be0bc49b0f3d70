"""A pytest plugin, loaded into MLflow's own test run with ``-p keel_pytest_plugin``, that
points the server fixtures of MLflow's REST tests at ``keel server``. Nothing else changes.

It runs inside the mlflow virtualenv and imports no keel: the server is started as a
subprocess (``KEEL_COMPAT_SERVER`` holds the command as JSON, ``KEEL_COMPAT_HOME`` the
empty folder it keeps its data in). One keel server serves the whole session; every
fixture call gets a fresh keel *project* (``http://host:port/projects/<new name>``, also made
the current tracking URI, as MLflow's fixtures make theirs), which through the MLflow API is a
fresh, empty store: its own experiments (with its own
``Default`` experiment "0"), runs, registered models and artifacts.

What is patched, per test module, after import (the fixtures read these module globals):

- ``ServerThread`` (the in-process MLflow app of ``mlflow_client`` / ``client``) and
  ``initialize_backend_stores`` (a no-op: keel keeps its own store);
- ``_init_server`` (a subprocess MLflow server) -> a fresh keel project URL;
- ``_launch_server`` of test_mlflow_artifacts.py (``mlflow server --artifacts-destination``)
  -> the keel server (its process stands in for MLflow's).

Tests parametrized over MLflow's two backends (``file`` / ``sqlalchemy``) run once, as
``sqlalchemy``: keel has one backend. Tests that use none of the server fixtures test
MLflow's server in-process (its handlers, its stores) and are deselected.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SERVER_FIXTURES = {
    "mlflow_client",
    "mlflow_client_with_secrets",
    "client",
    "artifacts_server",
    "cli_env",
}
_names = itertools.count(1)
#: Endpoints of MLflow's own web UI, not of its REST API: reported as a group of their own.
UI_PRIVATE = re.compile(r"/ajax-api/|/graphql|/get-artifact|get_metric_history_bulk")

#: Tests of endpoints keel does not implement on purpose (deselected, counted, named).
OUT_OF_SCOPE: tuple[tuple[str, str], ...] = (
    (r"trace|span|otel|assessment", "GenAI: traces and assessments"),
    (
        r"gateway|secret|endpoint|provider|model_definition|list_models|passphrase",
        "GenAI: AI gateway, its secrets and endpoints",
    ),
    (r"scorer|online_scoring", "GenAI: scorers"),
    (
        r"evaluation_dataset|dataset_to_experiments|dataset_experiment_association|"
        r"idempotent_(add|remove)_experiments|client_api_add_remove_experiments|"
        r"add_multiple_experiments_at_once|remove_dataset_from",
        "GenAI: evaluation datasets",
    ),
    (r"_issue", "GenAI: issues"),
    (r"promptlab", "GenAI: prompt lab runs"),
)


class _Keel:
    """The one keel server of the session."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> str:
        if self.proc is not None:
            return self.url
        cmd = json.loads(os.environ["KEEL_COMPAT_SERVER"])
        home = Path(os.environ["KEEL_COMPAT_HOME"])
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
        env["KEEL_HOME"] = str(home)
        env["PYTHONPATH"] = os.environ.get("KEEL_COMPAT_PYTHONPATH", "")
        log = open(home.parent / "keel-server.log", "ab")  # noqa: SIM115 - lives with the server
        self.proc = subprocess.Popen(
            [*cmd, "--port", str(port), "--log-level", "warning"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"keel server exited with {self.proc.returncode}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.url}/api/v1/health", timeout=5),
            ):
                return self.url
            time.sleep(0.3)
        raise RuntimeError("keel server did not start within 300 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


KEEL = _Keel()


def fresh_project_url() -> str:
    """A new, empty keel project's MLflow base URL."""
    return f"{KEEL.start()}/projects/compat-{next(_names):04d}"


class KeelServerThread:
    """Stands in for MLflow's ``ServerThread(app, port)``: yields a fresh project URL."""

    def __init__(self, app: Any = None, port: Any = None) -> None:
        self.url = fresh_project_url()

    def __enter__(self) -> str:
        # In MLflow's tests the autouse ``tracking_uri_mock`` points the fluent API and the
        # CLI at the sqlite file the in-process server serves, so they see one store; here
        # that store is the keel project.
        import mlflow

        mlflow.set_tracking_uri(self.url)
        return self.url

    def __exit__(self, *exc: object) -> None:
        return None


@contextlib.contextmanager
def keel_init_server(*args: Any, **kwargs: Any) -> Iterator[str]:
    import mlflow

    mlflow.set_tracking_uri(None)
    yield fresh_project_url()


@contextlib.contextmanager
def keel_launch_server(
    host: str,
    port: int,
    backend_store_uri: str,
    default_artifact_root: str,
    artifacts_destination: str,
) -> Iterator[Any]:
    """test_mlflow_artifacts.py's server: the keel server answering at the URL it built."""
    yield KEEL.proc


def _patch(module: Any) -> None:
    if hasattr(module, "ServerThread"):
        module.ServerThread = KeelServerThread
    if hasattr(module, "initialize_backend_stores"):
        module.initialize_backend_stores = lambda *a, **k: None
    if hasattr(module, "_init_server"):
        module._init_server = keel_init_server
    if hasattr(module, "_launch_server"):
        module._launch_server = keel_launch_server
        module.get_safe_port = _ArtifactsPort()


class _ArtifactsPort:
    """test_mlflow_artifacts.py builds its URL from ``get_safe_port()``: give it keel's port
    and keel's project path (the root project)."""

    def __call__(self) -> int:
        return int(KEEL.start().rsplit(":", 1)[1])


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    keep, drop = [], []
    patched: set[int] = set()
    for item in items:
        module = getattr(item, "module", None)
        if module is not None and id(module) not in patched:
            _patch(module)
            patched.add(id(module))
        params = getattr(getattr(item, "callspec", None), "params", {})
        backend = params.get("store_type", params.get("client"))
        uses_server = bool(SERVER_FIXTURES & set(getattr(item, "fixturenames", ())))
        source = _source(item)
        uses_server = uses_server or "_init_server(" in source
        if UI_PRIVATE.search(source):
            REPORT["ui_private"].append(item.nodeid)
        reason = _out_of_scope(item.name)
        if backend == "file" or not uses_server or reason:
            drop.append(item)
            if reason and backend != "file":
                REPORT["out_of_scope"].setdefault(reason, []).append(item.nodeid)
            elif not uses_server and backend != "file":
                REPORT["not_a_server_test"].append(item.nodeid)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def _out_of_scope(name: str) -> str | None:
    for pattern, reason in OUT_OF_SCOPE:
        if re.search(pattern, name):
            return reason
    return None


def _source(item: pytest.Item) -> str:
    import inspect

    fn = getattr(item, "function", None)
    try:
        return inspect.getsource(fn) if fn is not None else ""
    except (OSError, TypeError):
        return ""


REPORT: dict[str, Any] = {
    "out_of_scope": {},
    "not_a_server_test": [],
    "ui_private": [],
    "tests": {},
}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    tests = REPORT["tests"]
    if report.when == "call" or report.outcome != "passed":
        entry = tests.setdefault(report.nodeid, {"outcome": "passed", "error": ""})
        if hasattr(report, "wasxfail"):  # marked xfail in MLflow's own suite
            entry["outcome"] = "xfailed" if report.skipped else "xpassed"
        elif report.outcome != "passed" and entry["outcome"] == "passed":
            entry["outcome"] = "error" if report.when != "call" else report.outcome
            entry["error"] = _first_error(report)


def _first_error(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message)[:2000]
    return str(report.longrepr)[-2000:]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    KEEL.stop()
    out = os.environ.get("KEEL_COMPAT_REPORT")
    if out:
        Path(out).write_text(json.dumps(REPORT, indent=1))
