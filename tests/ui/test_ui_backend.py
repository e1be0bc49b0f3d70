"""The UI's server side without a browser: comments and metric sampling on every backend,
sealed sessions, response headers, markdown, and ``keel ui`` as a real process."""

from __future__ import annotations

import math
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import httpx
import pytest

from keel.exceptions import InvalidArgumentError, NotFoundError
from keel.store import Metric, Store
from keel.store.metric_sampling import sample_history

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2.*")


def test_comments_add_list_delete(store: Store) -> None:
    project = store.projects.get_or_create("p")
    other = store.projects.get_or_create("q")
    first = store.comments.add(project.id, "run", "abc", "looks **good**", author="ada")
    store.comments.add(project.id, "run", "abc", "second", author="bob")
    store.comments.add(project.id, "compare", "d1", "x", context="r1,r2")
    listed = store.comments.list(project.id, "run", "abc")
    assert [c.body for c in listed] == ["looks **good**", "second"]
    assert store.comments.list(project.id, "compare", "d1")[0].context == "r1,r2"
    with pytest.raises(NotFoundError):
        store.comments.get(other.id, first.id)  # another project's comment does not exist
    store.comments.delete(project.id, first.id)
    assert [c.author for c in store.comments.list(project.id, "run", "abc")] == ["bob"]
    with pytest.raises(InvalidArgumentError, match="empty"):
        store.comments.add(project.id, "run", "abc", "   ")
    with pytest.raises(InvalidArgumentError, match="subject kind"):
        store.comments.add(project.id, "dataset", "abc", "hi")


def test_sampled_history_keeps_extremes_and_never_ships_everything(store: Store) -> None:
    project = store.projects.get_or_create("p")
    exp = store.experiments.create(project.id, "e")
    run = store.runs.create(exp.id)
    points = [Metric("m", math.sin(s / 30), s, 1_000 + s) for s in range(10_000)]
    points[4321] = Metric("m", 50.0, 4321, 1_000 + 4321)  # one spike
    points[10] = Metric("m", math.nan, 10, 1_010)
    store.runs.log_batch(run.id, metrics=points)
    small = store.runs.create(exp.id)
    store.runs.log_batch(small.id, metrics=[Metric("m", float(s), s * 2, s) for s in range(50)])
    ids = [run.id, small.id, "nope"]
    found = {s.run_id: s for s in sample_history(store.db, ids, "m", points=200)}
    big = found[run.id]
    assert big.total > 200 and len(big.steps) <= 200
    assert max(big.high) == 50.0  # the spike survives bucketing
    assert min(big.low) == pytest.approx(-1.0, abs=1e-3)
    assert all(not math.isnan(v) for v in big.mean)
    assert big.steps == sorted(big.steps) and big.steps[0] == 0
    whole = found[small.id]
    assert whole.steps == [s * 2 for s in range(50)] and whole.mean == [float(s) for s in range(50)]
    assert "nope" not in found
    strided = sample_history(store.db, [run.id], "m", points=200, exact=False)[0]
    assert 150 <= len(strided.steps) <= 201 and strided.steps[-1] == 9_999
    assert all(
        v == pytest.approx(math.sin(s / 30))
        for s, v in zip(strided.steps, strided.mean, strict=True)
    )
    with pytest.raises(InvalidArgumentError):
        sample_history(store.db, [run.id], "m", points=0)


def test_history_logged_without_steps_is_bucketed_by_time(store: Store) -> None:
    project = store.projects.get_or_create("p")
    run = store.runs.create(store.experiments.create(project.id, "e").id)
    store.runs.log_batch(run.id, metrics=[Metric("m", float(i), 0, 1_000 + i) for i in range(900)])
    for exact in (True, False):
        series = sample_history(store.db, [run.id], "m", points=100, exact=exact)[0]
        assert 50 <= len(series.steps) <= 100 and series.high[-1] == 899.0


def test_sealed_sessions_resist_tampering_and_expire() -> None:
    from keel.server.ui._session import Session, SessionCodec

    codec = SessionCodec(b"k" * 32)
    session = Session.new("keel_secret")
    sealed = codec.seal(session)
    assert "keel_secret" not in sealed
    assert codec.open(sealed) == session
    flipped = sealed[:20] + ("A" if sealed[20] != "A" else "B") + sealed[21:]
    assert codec.open(flipped) is None
    assert SessionCodec(b"x" * 32).open(sealed) is None  # another server's key
    assert codec.open(codec.seal(Session("n", "", 1))) is None  # expired
    assert codec.csrf(session) != codec.csrf(Session.new())


def test_markdown_escapes_html_and_refuses_script_links() -> None:
    from keel.server.ui._render import markdown

    html = str(markdown("# T\n<script>x()</script> [a](javascript:alert(1)) **b**"))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript' not in html and "<strong>b</strong>" in html


def test_pages_carry_csp_and_raw_artifacts_are_sandboxed(
    ui_client: Any, sqlite_store: Store
) -> None:
    project = sqlite_store.projects.get("default")
    exp = sqlite_store.experiments.create(project.id, "e")
    run = sqlite_store.runs.create(exp.id)
    blobs = sqlite_store.blobs
    for path, data in (
        ("r.html", b"<script>1</script>"),
        ("x.bin", b"\x00\x01"),
        ("a.svg", b"<svg/>"),
    ):
        sqlite_store.artifacts.add(run.id, [(path, blobs.put_bytes(data))])
    page = ui_client.get(f"/ui/p/default/runs/{run.id}", headers={"accept": "text/html"})
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("style-src")[0]
    assert "frame-ancestors 'self'" in csp
    raw = ui_client.get(f"/ui/p/default/runs/{run.id}/raw/r.html")
    assert raw.headers["content-security-policy"].startswith("sandbox")
    assert raw.headers["content-type"].startswith("text/html")
    binary = ui_client.get(f"/ui/p/default/runs/{run.id}/raw/x.bin")
    assert binary.headers["content-disposition"].startswith("attachment")
    svg = ui_client.get(f"/ui/p/default/runs/{run.id}/raw/a.svg")
    assert svg.headers["content-type"] == "image/svg+xml"
    assert "sandbox" in svg.headers["content-security-policy"]
    missing = ui_client.get("/ui/p/default/runs/nope", headers={"accept": "text/html"})
    assert missing.status_code == 404 and "does not exist" in missing.text
    api = ui_client.get("/ui/p/default/runs/nope")  # not a browser: the server's JSON error
    assert api.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


@pytest.mark.parametrize("section", ["", "experiments", "models", "deployments", "search?q=x"])
def test_a_missing_projects_page_is_a_404_page_with_navigation(
    ui_client: Any, sqlite_store: Store, section: str
) -> None:
    """A typo in a project URL is a 404 page naming it, with the projects to pick from,
    and leaves no project behind (no auth: one person's server)."""
    page = ui_client.get(f"/ui/p/typo/{section}", headers={"accept": "text/html"})
    assert page.status_code == 404
    assert "project &#39;typo&#39; does not exist" in page.text
    assert 'aria-label="sections"' in page.text and 'href="/ui/"' in page.text
    assert 'href="/ui/p/default/experiments"' in page.text  # the project switcher
    assert [p.name for p in sqlite_store.projects.list()] == ["default"]


@pytest.mark.parametrize("chosen_by", ["KEEL_PROJECT", "--project"])
def test_keel_ui_prints_its_address_and_serves_the_store(tmp_path: Path, chosen_by: str) -> None:
    """`keel ui` opens the project the CLI works in: KEEL_PROJECT, or its own -P/--project."""
    from uikit import free_port, server_env  # type: ignore[import-not-found]

    home = tmp_path / "home"
    env = server_env(home)
    option = ["--project", "churn"] if chosen_by == "--project" else []
    if chosen_by == "KEEL_PROJECT":
        env["KEEL_PROJECT"] = "churn"
    proc = subprocess.Popen(
        [sys.executable, "-m", "keel.cli", "ui", "--port", str(free_port()), *option],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("keel UI on http://127.0.0.1:"), line
        url = line.split()[3]
        assert "/ui/p/churn/" in url, line
        deadline = time.monotonic() + 30
        while True:
            try:
                resp = httpx.get(url, headers={"accept": "text/html"}, timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.1)
        assert resp.status_code == 200 and "Experiments" in resp.text
        assert (home / "keel.db").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_compare_series_are_bucketed_cached_and_refreshed(
    ui_client: Any, sqlite_store: Store
) -> None:
    project = sqlite_store.projects.get("default")
    exp = sqlite_store.experiments.create(project.id, "e")
    ids = []
    for r in range(3):
        run = sqlite_store.runs.create(exp.id)
        points = [Metric("loss", 1.0 / (s + 1) + r, s, 1_000 + s) for s in range(2000)]
        sqlite_store.runs.log_batch(run.id, metrics=points)
        ids.append(run.id)
    url = f"/ui/p/default/compare/series?runs={','.join(ids)}&key=loss&points=100"
    first = ui_client.get(url)
    series = first.json()["series"]
    assert len(series) == 3
    assert all(len(s["steps"]) <= 100 and "low" in s for s in series.values())  # min/max band
    assert ui_client.get(url).content == first.content  # served again from the cache
    sqlite_store.runs.log_metric(ids[0], Metric("loss", -5.0, 5000, 9_000))
    fresh = ui_client.get(url).json()["series"][f"{ids[0]}/loss"]
    assert fresh["steps"][-1] >= 4950 and min(fresh["low"]) == -5.0
    many = ui_client.get(url.replace("=100", "=1000"), headers={"accept-encoding": "gzip"})
    assert many.headers["content-encoding"] == "gzip" and len(many.json()["series"]) == 3
