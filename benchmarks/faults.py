"""Fault injection (issue 21, "Hardening"): break things an operator meets and print what held.

    python benchmarks/faults.py [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]

Each scenario runs real processes and real sockets (the helpers are the tests' own,
``tests/server/faultkit.py``) and prints one line: HELD or BROKE, and what was seen.

1. ``keel db status`` and ``keel server`` on a database address that accepts and never
   answers: both must exit with one line within the connect timeout (2 s here).
2. A running ``keel server`` whose PostgreSQL link is black-holed, then down, then back
   (needs ``--pg`` or ``KEEL_TEST_POSTGRES_URI``): requests get 503 in bounded time, health
   says so, and service comes back.
3. Slow clients: ``keel server`` started with a 1,024 open-files limit, then 1,100
   connections that send half a request: valid requests still answer, the slow ones are
   closed by the header deadline.
4. ``keel server --workers 2`` whose parent is SIGKILLed: the workers exit and a restart
   binds the port.
5. A writer SIGKILLed in the middle of a 2 GiB-bound upload: ``keel gc`` removes its
   ``.part`` file at once.
6. Another process holds the SQLite write lock of a running ``keel server``: writes get
   503 with ``Retry-After`` after the statement timeout (1 s here), reads still answer, and
   the write goes through once the lock is released.

About 3-5 minutes on 2 cores (mostly start-up of the server processes).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "server"))
from faultkit import (  # type: ignore[import-not-found]  # noqa: E402
    BlackHole,
    TcpProxy,
    closed_by_peer,
    slow_clients,
)
from server_helpers import free_port  # type: ignore[import-not-found]  # noqa: E402

HALF_REQUEST = b"GET /api/v1/version HTTP/1.1\r\nHost: 127.0.0.1\r\n"
RESULTS: list[tuple[str, bool, str]] = []


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    env.update(KEEL_HOME=str(home), COLUMNS="400", **extra)
    return env


def _keel(env: dict[str, str], *args: str, timeout: float = 180) -> tuple[int, str, float]:
    start = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "keel.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return 124, "(no output: hung)", time.monotonic() - start
    return done.returncode, done.stderr.strip(), time.monotonic() - start


@contextlib.contextmanager
def _server(env: dict[str, str], port: int, *args: str, nofile: int = 0) -> Iterator[str]:
    def limits() -> None:
        if nofile:
            hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))

    cmd = [sys.executable, "-m", "keel.cli", "server", "--port", str(port), *args]
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=limits
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url, proc)
        yield url
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def _wait(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/api/v1/version", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError("keel server did not start")


def scenario(name: str) -> Callable[[Callable[..., str]], Callable[..., None]]:
    def wrap(fn: Callable[..., str]) -> Callable[..., None]:
        def run(*args: object) -> None:
            try:
                detail = fn(*args)
                RESULTS.append((name, True, detail))
            except AssertionError as exc:
                RESULTS.append((name, False, str(exc)))
            except Exception as exc:  # a crashed scenario did not hold either
                RESULTS.append((name, False, f"{type(exc).__name__}: {exc}"))
            held, detail = RESULTS[-1][1], RESULTS[-1][2]
            print(f"{'HELD ' if held else 'BROKE'}  {name}: {detail}", flush=True)

        return run

    return wrap


@scenario("black-holed database at start-up")
def black_hole_startup(tmp: Path) -> str:
    hole = BlackHole()
    try:
        uri = f"postgresql+psycopg://keel@127.0.0.1:{hole.port}/keel"
        env = _env(tmp / "bh", KEEL_DB_URI=uri, KEEL_DB_CONNECT_TIMEOUT="2")
        seen = []
        for args in (["db", "status"], ["server", "--port", str(free_port())]):
            rc, err, took = _keel(env, *args)
            lines = [line for line in err.splitlines() if line.strip()]
            assert rc not in (0, 124), f"keel {' '.join(args[:2])} rc {rc} after {took:.0f} s"
            assert len(lines) == 1, f"keel {args[0]}: {len(lines)} lines of error"
            seen.append(f"keel {args[0]} rc {rc} in {took:.1f} s")
        return "; ".join(seen) + f" ({lines[0][:90]}...)"
    finally:
        hole.close()


@scenario("database black-holed, then down, under a running server")
def database_link(tmp: Path, pg: str | None) -> str:
    if not pg:
        return "skipped: no PostgreSQL (--pg or KEEL_TEST_POSTGRES_URI)"
    from sqlalchemy.engine import make_url

    url = make_url(pg)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    uri = url.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
    env = _env(tmp / "link", KEEL_DB_URI=uri, KEEL_DB_STATEMENT_TIMEOUT="2")
    search = "/api/2.0/mlflow/experiments/search"
    out = []
    try:
        with _server(env, free_port()) as base, httpx.Client(timeout=120) as c:
            for mode in ("blackhole", "drop"):
                getattr(proxy, mode)()
                start = time.monotonic()
                r = c.post(base + search, json={"max_results": 5})
                took = time.monotonic() - start
                health = c.get(base + "/api/v1/health").status_code
                assert r.status_code == 503, f"{mode}: HTTP {r.status_code} after {took:.0f} s"
                assert health == 503, f"{mode}: health answered {health}"
                out.append(f"{mode}: 503 in {took:.1f} s, health 503")
            proxy.restore()
            r = c.post(base + search, json={"max_results": 5})
            assert r.status_code == 200, f"after restore: HTTP {r.status_code}"
            out.append("restored: 200")
    finally:
        proxy.close()
    return "; ".join(out)


@scenario("1,100 slow clients on a 1,024 open-files limit")
def slow(tmp: Path) -> str:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))  # room for 1,100
    port = free_port()
    with (
        _server(_env(tmp / "slow"), port, nofile=1024) as base,
        slow_clients(port, 1100, HALF_REQUEST) as socks,
    ):
        ok = sum(
            httpx.get(base + "/api/v1/version", timeout=30).status_code == 200 for _ in range(20)
        )
        assert ok == 20, f"only {ok}/20 valid requests answered"
        start = time.monotonic()
        left = list(socks)
        while left and time.monotonic() - start < 60:
            left = [s for s in left if not closed_by_peer(s)]
            time.sleep(0.2)
        assert not left, f"{len(left)} slow connections still open after 60 s"
        took = time.monotonic() - start
    return f"20/20 valid requests answered; all 1,100 slow ones closed {took:.1f} s later"


@scenario("parent of --workers 2 SIGKILLed")
def orphans(tmp: Path) -> str:
    port = free_port()
    env = _env(tmp / "workers")
    cmd = [sys.executable, "-m", "keel.cli", "server", "--port", str(port), "--workers", "2"]
    parent = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[psutil.Process] = []
    try:
        _wait(f"http://127.0.0.1:{port}", parent)
        workers = psutil.Process(parent.pid).children(recursive=True)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(30)
        start = time.monotonic()
        _, alive = psutil.wait_procs(workers, timeout=60)
        assert not alive, f"{len(alive)} workers still serving 60 s after the parent died"
        took = time.monotonic() - start
    finally:
        if parent.poll() is None:
            parent.kill()
        for w in workers:
            with contextlib.suppress(psutil.Error):
                w.kill()
    with _server(env, port):
        pass
    return f"{len(workers)} children gone {took:.1f} s after the parent; restart bound the port"


@scenario("writer killed in the middle of an upload")
def killed_upload(tmp: Path) -> str:
    home = tmp / "upload"
    writer = (
        "import sys\nfrom keel.store import BlobStore\n"
        "class Endless:\n    def read(self, n):\n        return b'z' * (1 << 20)\n"
        "BlobStore(sys.argv[1]).put_stream(Endless())\n"
    )
    root = home / "artifacts"
    proc = subprocess.Popen([sys.executable, "-c", writer, str(root)])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        parts = list((root / "tmp").glob("*.part")) if (root / "tmp").exists() else []
        if parts and parts[0].stat().st_size > 64 << 20:
            break
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    size = sum(p.stat().st_size for p in (root / "tmp").glob("*.part"))
    rc, err, _ = _keel(_env(home), "gc")
    left = list((root / "tmp").glob("*.part"))
    assert rc == 0, f"keel gc rc {rc}: {err}"
    assert not left, f"{len(left)} .part files ({size >> 20} MiB) left after keel gc"
    return f"{size >> 20} MiB .part removed by the next keel gc (no grace wait)"


@scenario("SQLite write lock held by another process")
def sqlite_locked(tmp: Path) -> str:
    import sqlite3

    home = tmp / "locked"
    port = free_port()
    body = {"name": "while-locked"}
    create = "/api/2.0/mlflow/experiments/create"
    with _server(_env(home, KEEL_DB_STATEMENT_TIMEOUT="1"), port) as url:
        holder = sqlite3.connect(home / "keel.db", isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            start = time.monotonic()
            blocked = httpx.post(url + create, json=body, timeout=30)
            took = time.monotonic() - start
            read = httpx.get(url + "/api/v1/projects", timeout=30)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        after = httpx.post(url + create, json=body, timeout=30)
    assert blocked.status_code == 503, f"a locked write got {blocked.status_code}, not 503"
    assert blocked.headers.get("Retry-After"), "503 without Retry-After"
    assert read.status_code == 200, f"a read during the lock got {read.status_code}"
    assert after.status_code == 200, f"the write after the lock got {after.status_code}"
    return f"503 + Retry-After in {took:.1f} s, reads answered, the retry went through"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default=os.environ.get("KEEL_TEST_POSTGRES_URI"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="keel-faults-") as tmp:
        t = Path(tmp)
        black_hole_startup(t)
        database_link(t, args.pg)
        slow(t)
        orphans(t)
        killed_upload(t)
        sqlite_locked(t)
    held = sum(ok for _, ok, _ in RESULTS)
    print(f"\n{held}/{len(RESULTS)} held")
    sys.exit(0 if held == len(RESULTS) else 1)


if __name__ == "__main__":
    main()
