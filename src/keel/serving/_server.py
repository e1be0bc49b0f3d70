"""Running the serving app: uvicorn in this process, in worker processes, or in a thread.

Accepted sockets get ``TCP_NODELAY`` (small JSON answers must not wait for Nagle and the
client's delayed ACK: ~40 ms stalls otherwise). With ``workers > 1`` the parent binds the
port once and hands the socket to spawned worker processes (as uvicorn does); each worker
loads the models, keeps its own prediction log files and metrics, and is restarted if it
dies. SIGTERM or Ctrl-C shut everything down gracefully: requests in flight finish and
the prediction log is flushed.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from keel.config import Settings
from keel.serving._app import create_app
from keel.serving._metrics import ServingMetrics
from keel.serving._runtime import DeploymentRuntime
from keel.serving._source import ModelSource, RegistrySource
from keel.serving._spec import DeploymentSpec, check_resources, load_spec
from keel.store.predlog import PredictionLog
from keel.store.projects import existing_project

if TYPE_CHECKING:
    from keel.serving._presence import Presence
    from keel.store import Store

log = logging.getLogger("keel.serving")


def build_app(
    spec: DeploymentSpec,
    settings: Settings,
    *,
    source: ModelSource | None = None,
    store: Store | None = None,
    follow_store: bool = False,
) -> Any:
    """The ASGI app for ``spec``; with ``follow_store`` it also follows new revisions of the
    deployment applied with ``keel deploy apply`` while it runs. Serving the store's
    registry, it carries a :class:`Presence` that :func:`start_in_thread` starts."""
    check_resources(spec)
    trust = spec.trust or settings.model_trust
    if not follow_store:  # an ad hoc deployment records an opt-out in effect; an applied one
        spec = spec.with_trust(trust)  # keeps its revision as applied (unset: the server's)
    from_registry = source is None
    if source is None or follow_store:
        from keel.store import open_store

        store = store or open_store(settings)
    if source is None:
        assert store is not None
        source = RegistrySource(store, settings.project, trust=trust)
    updates = _store_updates(store, settings, spec.name) if follow_store and store else None
    metrics = ServingMetrics()
    runtime = DeploymentRuntime(spec, source, metrics, spec_updates=updates)
    plog = None
    if spec.log.enabled:
        plog = PredictionLog(
            settings.artifacts_uri,
            flush_s=spec.log.flush_s,
            buffer_rows=spec.log.buffer_rows,
            metrics=metrics,
            metadata={"keel.trust": trust},  # every file says which policy loaded the models
        )
    app = create_app(
        runtime,
        prediction_log=plog,
        max_body_bytes=int(spec.server.max_body_mb * 2**20),
        log_sample=spec.log.sample,
    )
    if from_registry:
        from keel.serving._presence import Presence

        app.keel_presence = Presence(  # type: ignore[attr-defined]
            settings, spec, adhoc=not follow_store, store=store, note="served in-process"
        )
    return app


def _store_updates(
    store: Store, settings: Settings, name: str
) -> Callable[[], DeploymentSpec | None]:
    """A poll that returns the deployment's spec when a new revision was applied."""
    project = existing_project(store.projects, settings.project)  # the spec came from it
    seen = [store.deployments.current_revision(project.id, name)]

    def poll() -> DeploymentSpec | None:
        now = store.deployments.current_revision(project.id, name)
        if now is None or now == seen[0]:
            return None
        seen[0] = now
        return load_spec(store.deployments.get(project.id, name).spec)

    return poll


def uvicorn_config(app: Any, host: str, port: int, *, log_level: str = "warning") -> Any:
    import uvicorn

    from keel._uvicorn import GuardedProtocol, raise_open_files_limit, uvicorn_options

    raise_open_files_limit()
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=GuardedProtocol,  # TCP_NODELAY and request-read deadlines, as keel server
        **uvicorn_options(),
        loop="auto",
        lifespan="on",
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=30,
        server_header=False,
        date_header=False,
    )


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


@dataclass
class ServerHandle:
    """A server running in a background thread of this process (tests, quickstart)."""

    url: str
    server: Any
    thread: threading.Thread
    presence: Presence | None = None

    def stop(self, timeout_s: float = 30.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout_s)
        if self.presence is not None:
            self.presence.stop()


def start_in_thread(
    app: Any, host: str = "127.0.0.1", port: int = 0, *, timeout_s: float = 60
) -> ServerHandle:
    """Serve ``app`` from a thread; returns once the models are loaded and it answers."""
    import uvicorn

    sock = bind_socket(host, port)
    config = uvicorn_config(app, host, sock.getsockname()[1])
    server = uvicorn.Server(config)
    # (signal handlers are only installed from the main thread; this is not it)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # uvicorn exits the thread when the app fails to start
            failure.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive():
            sock.close()
            error = getattr(app, "startup_error", None)
            if error is not None:
                raise error
            raise RuntimeError(
                "the serving app failed to start (its models did not load; the log above "
                f"says why){': ' + repr(failure[0]) if failure else ''}"
            )
        if time.monotonic() > deadline:
            server.should_exit = True
            raise TimeoutError(f"the serving app did not start within {timeout_s:.0f} s")
        time.sleep(0.02)
    handle = ServerHandle(f"http://{host}:{sock.getsockname()[1]}", server, thread)
    presence = getattr(app, "keel_presence", None)
    if presence is not None:
        try:
            presence.start(host, int(sock.getsockname()[1]))
        except BaseException:
            handle.stop(timeout_s)
            raise
        handle.presence = presence
    return handle


def serve(
    spec: DeploymentSpec,
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
    follow_store: bool = False,
    log_level: str = "warning",
    source: ModelSource | None = None,
    presence: Presence | None = None,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve ``spec`` until SIGTERM/Ctrl-C, in one process or ``workers`` processes.

    ``source`` (picklable: workers are spawned) replaces the store's registry;
    ``presence`` records the deployment's address and liveness while it serves;
    ``ready`` is called with the address once the app started (its models loaded).
    """
    check_resources(spec)
    host = host or spec.server.host
    port = spec.server.port if port is None else port
    n = workers or max(ep.resources.workers for ep in spec.endpoints)
    sock = bind_socket(host, port)
    bound = int(sock.getsockname()[1])  # the real port, also for port 0
    if presence is not None:
        presence.start(host, bound)
    try:
        if n <= 1:
            announce = None if ready is None else (ready, f"http://{host}:{bound}")
            _worker(spec.to_dict(), settings, sock, follow_store, log_level, source, None, announce)
            return
        if ready is not None:  # spawned workers load their models on their own
            ready(f"http://{host}:{bound}")
        _supervise(spec, settings, sock, n, follow_store, log_level, source)
    finally:
        if presence is not None:
            presence.stop()


def _worker(
    spec_dict: dict[str, Any],
    settings: Settings,
    sock: socket.socket,
    follow_store: bool,
    log_level: str,
    source: ModelSource | None = None,
    parent_pid: int | None = None,
    announce: tuple[Callable[[str], None], str] | None = None,
) -> None:
    import uvicorn

    from keel._uvicorn import exit_with_parent

    # a worker left behind by a killed supervisor would keep serving and hold the port
    exit_with_parent(parent_pid)
    spec = load_spec(spec_dict)
    app = build_app(spec, settings, source=source, follow_store=follow_store)
    server = uvicorn.Server(uvicorn_config(app, *sock.getsockname()[:2], log_level=log_level))
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal to the
    # handler that was there before; make that a clean exit rather than a kill.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exit_cleanly)
    if announce is not None:
        threading.Thread(target=_announce, args=(server, *announce), daemon=True).start()
    try:
        server.run(sockets=[sock])
    except SystemExit:
        if app.startup_error is None:
            raise
    if app.startup_error is not None:  # say why in one line, not uvicorn's exit code 3
        raise app.startup_error


def _announce(server: Any, ready: Callable[[str], None], address: str) -> None:
    """Call ``ready`` once uvicorn has started the app; never when it fails to."""
    while not server.started:
        if server.should_exit:
            return
        time.sleep(0.05)
    ready(address)


def _exit_cleanly(signum: int, _frame: Any) -> None:
    raise SystemExit(0)


def _supervise(
    spec: DeploymentSpec,
    settings: Settings,
    sock: socket.socket,
    n: int,
    follow_store: bool,
    log_level: str,
    source: ModelSource | None,
) -> None:
    ctx = multiprocessing.get_context("spawn")
    args = (spec.to_dict(), settings, sock, follow_store, log_level, source, os.getpid())
    procs = [ctx.Process(target=_worker, args=args, daemon=False) for _ in range(n)]
    for p in procs:
        p.start()
    stopping = threading.Event()

    def stop(signum: int, _frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping.wait(0.5):
        for i, p in enumerate(procs):
            if not p.is_alive() and not stopping.is_set():
                log.warning("serving worker %s exited with %s; restarting it", p.pid, p.exitcode)
                procs[i] = ctx.Process(target=_worker, args=args, daemon=False)
                procs[i].start()
    for p in procs:
        if p.is_alive() and p.pid is not None:
            p.terminate()  # SIGTERM: uvicorn finishes requests and flushes the log
    for p in procs:
        p.join(60)
    sock.close()


__all__ = ["ServerHandle", "bind_socket", "build_app", "serve", "start_in_thread", "uvicorn_config"]
