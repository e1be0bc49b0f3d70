"""Tour step for team mode: a ``keel server`` over this store, used through the same SDK."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from keel.exceptions import KeelError
from keel.quickstart._context import TourContext
from keel.quickstart._models import MODEL_NAME

if TYPE_CHECKING:
    from keel.pipelines import PipelineResult
    from keel.store import Store


def share_with_the_team(ctx: TourContext) -> None:
    """Start ``keel server`` on this store (loopback, no sign-in), then talk to it with
    KEEL_SERVER_URL as a colleague would: read the registry, log a run, run a pipeline whose
    steps execute in worker processes that read and write the server's store."""
    from keel.config import Settings
    from keel.models import Registry
    from keel.store import open_store
    from keel.tracking import TrackingClient

    with _server(ctx) as url:
        colleague = Settings.for_home(  # another machine: its own home, the shared server
            ctx.settings.home / "colleague", project=ctx.settings.project, server_url=url
        )
        remote = open_store(colleague)
        try:
            champion = Registry(remote, ctx.settings.project).resolve(f"{MODEL_NAME}@champion")
            client = TrackingClient(remote, ctx.settings.project)
            run = client.create_run("quickstart-team", name="colleague-run")
            client.log_metric(run.id, "auc", 0.97)
            client.end_run(run.id)
            pipelines = remote.pipeline_runs.list(client.project.id, limit=5)
            shared = _colleague_pipeline(ctx, remote)
            baseline_auc = shared.value()["auc"]  # read through the server, while it is open
        finally:
            remote.close()
    local = ctx.client.store.runs.get(run.id)
    ctx.say(f"`keel server` on this store at {url}; a colleague sets KEEL_SERVER_URL={url}:")
    ctx.say(
        f"  reads [bold]{MODEL_NAME}@champion[/bold] (version {champion.version}) from the "
        f"registry and sees {len(pipelines)} pipeline run(s) over HTTP"
    )
    ctx.say(
        f"  logs run [bold]{local.info.name}[/bold] (auc {local.metrics['auc']}): it is in the "
        "shared store"
    )
    ctx.say(
        f"  runs pipeline [bold]team_baseline[/bold] in worker processes over "
        f"the server: {_steps(shared)}; linear baseline auc {baseline_auc:.4f}"
    )
    ctx.results["team_run_id"] = run.id
    ctx.results["team_pipeline_run"] = shared.run_id


def _colleague_pipeline(ctx: TourContext, remote: Store) -> PipelineResult:
    """The colleague's pipeline on two worker processes: ``prepare`` is a cache hit on what
    this machine's training run stored, ``baseline`` runs in a worker against the server."""
    from keel.quickstart._pipelines import team_baseline

    params = {"frame": ctx.results["frame"], "source": ctx.results.get("dataset")}
    return team_baseline.run(
        params,
        store=remote,
        project=ctx.settings.project,
        runner="processes",
        workers=2,
        experiment="quickstart-team",
    )


def _steps(result: PipelineResult) -> str:
    return ", ".join(f"{n} {s.status.value}" for n, s in result.steps.items())


@contextlib.contextmanager
def _server(ctx: TourContext) -> Iterator[str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    env.update(
        KEEL_HOME=str(ctx.settings.home),
        KEEL_DB_URI=ctx.settings.db_uri,
        KEEL_ARTIFACTS_URI=ctx.settings.artifacts_uri,
    )
    log = Path(ctx.settings.home) / "quickstart-server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "keel.cli", "server", "--port", str(port),
             "--log-level", "warning"],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise KeelError(f"keel server stopped during start-up; see {log}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise KeelError(f"keel server did not answer {url} within 60 s; see {log}")
