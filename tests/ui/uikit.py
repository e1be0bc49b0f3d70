"""Web UI test kit: a real ``keel server --auth`` over a seeded store, and headless Chromium.

The store is seeded once per session by ``keel quickstart`` (datasets, pipelines, a signed
model, predictions, monitors and alerts), plus hostile content for the XSS tests, enough
runs to page through, a second dataset version, a deployment and three users (admin,
reader, writer). Chromium is Debian's package driven by Playwright's Python client; the
tests skip when it is missing unless KEEL_TEST_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import io
import math
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from keel.config import Settings
from keel.store import Metric, Store, open_store

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "ui"
#: Strings that would run script if any page let them through unescaped.
EVIL = "<script>window.__pwned=1;document.title='pwned'</script>"
EVIL_IMG = "<img src=x onerror=\"window.__pwned=1;document.title='pwned'\">"
EVIL_HTML_REPORT = (
    "<html><head><title>report</title></head><body><h1 id=h>report</h1>"
    "<script>window.__pwned=1;document.title='pwned';"
    "try{parent.__pwned=1;parent.document.title='pwned'}catch(e){}"
    "try{top.__pwned=1}catch(e){}</script></body></html>"
)
EVIL_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" onload="top.__pwned=1">'
    "<script>top.__pwned=1</script><rect width='10' height='10'/></svg>"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class UIWorld:
    """A running server and what the seed put in it."""

    url: str
    home: Path
    tokens: dict[str, str]
    ids: dict[str, Any] = field(default_factory=dict)

    def store(self) -> Store:
        return open_store(Settings.for_home(self.home))

    def page_url(self, path: str) -> str:
        return f"{self.url}/ui/p/default{path}"


def server_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_") or "TEST" in k}
    env["KEEL_HOME"] = str(home)
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    return env


def _quickstart(home: Path) -> None:
    work = home.parent / "quickstart-cwd"
    work.mkdir(exist_ok=True)
    proc = subprocess.run(
        [sys.executable, "-m", "keel.cli", "quickstart"],
        cwd=work,
        env=server_env(home),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def _artifacts(store: Store, run_id: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    def put(path: str, data: bytes) -> None:
        store.artifacts.add(run_id, [(path, store.blobs.put_bytes(data))])

    put("notes/readme.txt", b"plain text artifact\n<script>window.__pwned=1</script>\n")
    put("notes/raw.md", f"# Title\n\n{EVIL}\n\n{EVIL_IMG}\n\n[x](javascript:alert(1))".encode())
    put("data/table.csv", b"a,b,name\n1,2,<b>bold</b>\n3,4,x\n")
    buf = io.BytesIO()
    pq.write_table(pa.table({"x": list(range(100)), "y": [f"v{i}" for i in range(100)]}), buf)
    put("data/table.parquet", buf.getvalue())
    put("plots/pixel.png", _png())
    put("plots/evil.svg", EVIL_SVG.encode())
    put("reports/report.html", EVIL_HTML_REPORT.encode())
    put("_keel/uncommitted.diff", b"--- a/train.py\n+++ b/train.py\n@@ -1 +1 @@\n-lr=1\n+lr=2\n")


def _png() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\x20\x60\xc0" * 16 for _ in range(16))
    header = struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _seed(store: Store) -> dict[str, Any]:
    """Hostile content, pages of runs, a second dataset version, a deployment, users."""
    from keel.data import DatasetClient
    from keel.store.deployments import DeploymentTarget

    project = store.projects.get("default")
    evil_exp = store.experiments.create(project.id, f"evil {EVIL}")
    evil = store.runs.create(evil_exp.id, name=f"run {EVIL}", tags={"t": EVIL_IMG})
    points = [Metric("loss", 1.0 / (s + 1), s, 1_700_000_000_000 + s * 1000) for s in range(300)]
    store.runs.log_batch(evil.id, metrics=points, params={"p": EVIL, "q": EVIL_IMG})
    store.runs.update(evil.id, note=f"# Note\n\n{EVIL}\n\n{EVIL_IMG}\n\n**bold** text")
    _artifacts(store, evil.id)
    many = store.experiments.create(project.id, "many")
    for i in range(60):
        run = store.runs.create(many.id, name=f"m{i:02d}")
        series = [Metric("auc", 0.5 + 0.008 * i - 0.1 * math.exp(-s / 20), s, 0) for s in range(40)]
        store.runs.log_batch(run.id, metrics=series, params={"depth": str(i % 7), "lr": str(i)})
    twins = _twins(store, project.id)
    datasets = DatasetClient(store, project)
    frame = datasets.load("breast-cancer@1")
    datasets.log("breast-cancer", frame.assign(mean_radius=frame["mean_radius"] * 1.5))
    target = DeploymentTarget(
        "predict", "breast-cancer-classifier@champion", "breast-cancer-classifier", 1.0
    )
    store.deployments.apply(project.id, "quickstart", {"models": ["champion"]}, [target])
    return {"evil_run": evil.id, "evil_exp": evil_exp.id, "many_exp": many.id, "twins": twins}


def _twins(store: Store, project_id: int) -> list[str]:
    """Six runs for the compare view: two share a name, one metric is a single final value,
    one param is set on only some runs, and a tag puts them in two groups of three."""
    exp = store.experiments.create(project_id, "twins")
    ids = []
    for i, name in enumerate(["twin", "twin", "alpha", "beta", "gamma", "delta"]):
        run = store.runs.create(exp.id, name=name, tags={"arm": "control" if i < 3 else "new"})
        curve = [Metric("val_loss", 1 / (s + 1 + i), s, 1_700_000_000_000 + s) for s in range(20)]
        final = Metric("final_accuracy", 0.7 + 0.04 * i, 0, 1_700_000_100_000)
        params = {"lr": str(0.1 / (i + 1))} | ({"depth": str(i)} if i % 2 else {})
        store.runs.log_batch(run.id, metrics=[*curve, final], params=params)
        if i < 3:
            store.artifacts.add(run.id, [("plots/confusion.png", store.blobs.put_bytes(_png()))])
        ids.append(run.id)
    return ids


def _users(store: Store) -> dict[str, str]:
    project = store.projects.get("default")
    tokens = {}
    for name, role in (("root", None), ("rita", "reader"), ("walt", "writer")):
        user = store.users.create_user(name, is_admin=role is None)
        tokens[name] = store.users.create_token(user.id, "ui tests")[1]
        if role:
            store.users.set_role(project.id, user.id, role)
    return tokens


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"keel server exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"keel server did not start:\n{log.read_text()[-3000:]}")


def seed_home(home: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """Quickstart plus the UI tests' own data in ``home``; (ids, tokens by user)."""
    home.mkdir(parents=True, exist_ok=True)
    _quickstart(home)
    store = open_store(Settings.for_home(home))
    try:
        return _seed(store), _users(store)
    finally:
        store.close()


class Session:
    """One browser context signed in as one user, collecting console errors."""

    def __init__(
        self,
        browser: Any,
        world: UIWorld,
        user: str | None,
        viewport: tuple[int, int] = (1400, 1000),
        **context: Any,
    ) -> None:
        self.world = world
        size = {"width": viewport[0], "height": viewport[1]}
        self.context = browser.new_context(viewport=size, **context)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        self.page.on("console", self._console)
        self.page.on("response", self._response)
        if user is not None:
            self.login(world.tokens[user])

    def _console(self, msg: Any) -> None:
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            self.errors.append(msg.text)

    def _response(self, response: Any) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            self.errors.append(f"{response.status} {response.url}")

    def login(self, token: str) -> None:
        page = self.page
        page.goto(f"{self.world.url}/ui/login?next=/ui/")
        page.fill('input[name="token"]', token)
        page.click('button[type="submit"]')
        page.wait_for_url(f"{self.world.url}/ui/")

    def goto(self, path: str) -> Any:
        response = self.page.goto(self.world.page_url(path))
        assert response is not None
        return response

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        out = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(out), full_page=True)
        return out

    def pwned(self) -> Any:
        return self.page.evaluate("() => [window.__pwned, document.title]")

    def close(self) -> None:
        self.context.close()
