"""Comparison reports over a real git checkout and a real SQLite store."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

import keel.reports
from keel.config import Settings
from keel.data import DatasetClient
from keel.exceptions import InvalidArgumentError, NotFoundError
from keel.reports import MARKER
from keel.store import open_store
from keel.store.registry import NewVersion
from keel.tracking import TrackingClient


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _notebook(cells: list[tuple[str, str]]) -> str:
    return json.dumps(
        {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {},
            "cells": [
                {
                    "cell_type": "code",
                    "execution_count": 7,
                    "metadata": {},
                    "source": src,
                    "outputs": [{"output_type": "stream", "name": "stdout", "text": out}],
                }
                for src, out in cells
            ],
        }
    )


@dataclass
class World:
    client: TrackingClient
    repo: Path
    base: str
    head: str
    base_runs: list[str]
    head_runs: list[str]


def _log(client: TrackingClient, commit: str, lr: str, loss: float, auc: float) -> str:
    run = client.create_run("churn", tags={"keel.git.commit": commit})
    client.log_params(run.id, {"lr": lr, "depth": "4"})
    for step in range(4):
        client.log_metric(run.id, "val_loss", loss + 1.0 / (step + 1), step=step)
    client.log_metric(run.id, "auc", auc)
    client.end_run(run.id)
    return run.id


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("compare")
    repo = root / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "t@example.com")
    _git(repo, "config", "user.name", "t")
    (repo / "train.py").write_text("lr = 0.1\n")
    (repo / "eda.ipynb").write_text(_notebook([("import pandas", ""), ("print(1)", "1\n")]))
    (repo / "broken.ipynb").write_text(_notebook([("x = 1", "")]))
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "base")
    base = _git(repo, "rev-parse", "HEAD")
    (repo / "train.py").write_text("lr = 0.05\nepochs = 3\n")
    (repo / "eda.ipynb").write_text(
        _notebook([("import pandas", ""), ("df.describe()", "ok\n"), ("print(1)", "2\n")])
    )
    (repo / "broken.ipynb").write_text('{"cells": [')
    _git(repo, "commit", "-qam", "head")
    head = _git(repo, "rev-parse", "HEAD")

    store = open_store(Settings.for_home(root / "home"))
    client = TrackingClient(store, project="reports")
    base_runs = [_log(client, base, "0.1", 0.30 + i * 0.002, 0.90 + i * 0.001) for i in range(3)]
    head_runs = [_log(client, head, "0.05", 0.20 + i * 0.002, 0.88 + i * 0.001) for i in range(3)]
    yield World(client, repo, base, head, base_runs, head_runs)
    store.close()


def test_git_refs_find_the_runs_tagged_with_their_commits(world: World) -> None:
    report = keel.reports.compare("HEAD~1", "HEAD", client=world.client, repo=world.repo)
    assert sorted(report.base.run_ids) == sorted(world.base_runs)
    assert sorted(report.head.run_ids) == sorted(world.head_runs)
    assert (report.base.commit, report.head.commit) == (world.base, world.head)


def test_metric_deltas_are_direction_aware_with_a_noise_band(world: World) -> None:
    report = keel.reports.compare(world.base, world.head, client=world.client, repo=world.repo)
    by_key = {m.key: m for m in report.metrics}
    loss, auc = by_key["val_loss"], by_key["auc"]
    assert loss.lower_is_better and not auc.lower_is_better
    assert loss.verdict == "better" and auc.verdict == "worse"
    assert loss.base is not None and loss.base.n == 3 and loss.base.std > 0
    assert loss.delta == pytest.approx(-0.1)
    assert [(p.key, p.base, p.head) for p in report.params] == [("lr", ["0.1"], ["0.05"])]


def test_a_change_inside_the_noise_band_is_not_called_better(world: World) -> None:
    a = world.client.get_run(world.base_runs[0])
    b = world.client.get_run(world.base_runs[1])
    deltas = {m.key: m for m in keel.reports.metric_deltas([a, b], [a])}
    assert deltas["auc"].verdict == "noise"


def test_a_direction_tag_overrides_the_name(world: World) -> None:
    base = [world.client.get_run(r) for r in world.base_runs]
    head = [world.client.get_run(r) for r in world.head_runs]
    tags = [{"keel.metric_direction.auc": "min"}]
    deltas = {m.key: m for m in keel.reports.metric_deltas(base, head, tags)}
    assert deltas["auc"].lower_is_better and deltas["auc"].verdict == "better"


def test_code_and_notebook_diffs_show_cells_not_json(world: World) -> None:
    report = keel.reports.compare("HEAD~1", "HEAD", client=world.client, repo=world.repo)
    assert report.code is not None
    assert {f.path for f in report.code.files} == {"train.py", "eda.ipynb", "broken.ipynb"}
    notebooks = {nb.path: nb for nb in report.code.notebooks}
    eda = notebooks["eda.ipynb"]
    assert [(c.status, c.index) for c in eda.changes] == [("added", 1), ("modified", 2)]
    assert (
        "+2" in eda.changes[1].output_diff and "execution_count" not in eda.changes[1].source_diff
    )
    assert "not JSON" in notebooks["broken.ipynb"].error
    assert "broken.ipynb (after) is not a valid notebook" in notebooks["broken.ipynb"].error


def test_markdown_and_html_render_every_section(world: World) -> None:
    report = keel.reports.compare("HEAD~1", "HEAD", client=world.client, repo=world.repo)
    md = report.to_markdown()
    assert md.startswith(keel.reports.MARKER)
    assert "| val_loss ↓ |" in md and "🟢 better" in md and "🔴 worse" in md
    assert "| lr | 0.1 | 0.05 |" in md and "df.describe()" in md
    html = report.to_html()
    assert html.startswith("<!doctype html>") and "<svg" in html and "<polyline" in html
    assert "class='num better'" in html and "src=" not in html  # self-contained


def test_run_ids_models_and_experiments_are_sides_too(world: World) -> None:
    store, project = world.client.store, world.client.project
    store.registry.create_model(project.id, "churn")
    version = store.registry.create_version(
        project.id,
        "churn",
        NewVersion("0" * 64, 1, "0" * 64, "sklearn", "sklearn", "classification",
                   run_id=world.base_runs[0]),
    )  # fmt: skip
    store.registry.set_alias(project.id, "churn", "champion", version.id)
    report = keel.reports.compare(
        "churn@champion", world.head_runs[0], client=world.client, repo=world.repo
    )
    assert report.base.kind == "model" and report.base.run_ids == [world.base_runs[0]]
    assert report.head.kind == "run" and report.head.run_ids == [world.head_runs[0]]
    both = keel.reports.compare("experiment:churn", "HEAD", client=world.client, repo=world.repo)
    assert len(both.base.run_ids) == 6


def test_a_unique_run_id_prefix_is_a_side_as_in_keel_runs_show(world: World) -> None:
    base, head = world.base_runs[0], world.head_runs[0]
    report = keel.reports.compare(f"run:{base[:8]}", head[:8], client=world.client, repo=world.repo)
    assert report.base.kind == "run" and report.base.run_ids == [base]
    assert report.head.kind == "run" and report.head.run_ids == [head]
    with pytest.raises(InvalidArgumentError, match="too short"):
        keel.reports.compare(f"run:{base[:4]}", head, client=world.client, repo=world.repo)


def test_dataset_versions_read_by_each_side_are_diffed(world: World) -> None:
    datasets = DatasetClient(world.client.store, world.client.project)
    a = world.client.create_run("data-a")
    b = world.client.create_run("data-b")
    datasets.log("customers", pd.DataFrame({"age": [30, 40, 50]}), run_id=a.id)
    datasets.log(
        "customers", pd.DataFrame({"age": [30, 40, 90, 95], "plan": list("abab")}), run_id=b.id
    )
    world.client.log_metric(a.id, "auc", 0.5)
    world.client.log_metric(b.id, "auc", 0.6)
    report = keel.reports.compare(a.id, b.id, client=world.client, repo=world.repo)
    [diff] = report.datasets
    assert (diff.a, diff.b) == ("customers@1", "customers@2")
    assert [c["name"] for c in diff.added_columns] == ["plan"]
    assert "customers@1 → customers@2: rows 3 → 4; added plan" in report.to_markdown()


def test_a_side_with_no_runs_is_a_one_line_error(world: World) -> None:
    (world.repo / "later.txt").write_text("x")
    _git(world.repo, "add", ".")
    _git(world.repo, "commit", "-qm", "no runs yet")
    try:
        with pytest.raises(NotFoundError, match=r"--head: git ref 'HEAD' is commit \w+, but no"):
            keel.reports.compare("HEAD~1", "HEAD", client=world.client, repo=world.repo)
        with pytest.raises(NotFoundError, match="--base 'nope' names no run id"):
            keel.reports.compare("nope", "HEAD~1", client=world.client, repo=world.repo)
    finally:
        _git(world.repo, "reset", "-q", "--hard", "HEAD~1")


def test_cli_writes_markdown_and_html_and_fails_in_one_line(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = world.client.store.settings.db_uri
    env = {
        "KEEL_DB_URI": db,
        "KEEL_ARTIFACTS_URI": str(tmp_path / "art"),
        "KEEL_HOME": str(tmp_path),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    md, html = tmp_path / "r.md", tmp_path / "r.html"
    cmd = [sys.executable, "-m", "keel.cli", "-P", "reports", "report", "compare"]
    ok = subprocess.run(
        [*cmd, "--base", "HEAD~1", "--head", "HEAD", "--md", str(md), "--out", str(html)],
        cwd=world.repo, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "1 metric(s) better, 1 worse" in ok.stdout
    assert md.read_text().startswith(keel.reports.MARKER) and "<svg" in html.read_text()
    bad = subprocess.run(
        [*cmd, "--base", "nope", "--head", "HEAD"],
        cwd=world.repo, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert bad.returncode == 3
    assert bad.stderr.strip().startswith("Error: --base 'nope' names no run id")
    assert len(bad.stderr.strip().splitlines()) == 1


def test_cli_stores_lists_shows_and_finds_reports(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEEL_DB_URI", world.client.store.settings.db_uri)
    monkeypatch.setenv("KEEL_ARTIFACTS_URI", str(tmp_path / "art"))

    def keel(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "keel.cli", "-P", "reports", *args],
            cwd=world.repo, capture_output=True, text=True, check=False,
        )  # fmt: skip

    saved = keel("report", "compare", "--base", "HEAD~1", "--head", "HEAD", "--save", "lr sweep")
    assert saved.returncode == 0, saved.stderr
    [stored] = json.loads(keel("report", "list", "--json").stdout)
    assert (stored["title"], stored["base"], stored["head"]) == ("lr sweep", "HEAD~1", "HEAD")
    shown = keel("report", "show", str(stored["id"]))
    assert shown.stdout.startswith(MARKER) and "| lr | 0.1 | 0.05 |" in shown.stdout
    found = json.loads(keel("search", "val_loss lr", "--kind", "report", "--json").stdout)
    assert [(h["kind"], h["ref"]) for h in found] == [("report", str(stored["id"]))]
    [hit] = json.loads(keel("search", "keel", "--kind", "report", "--json").stdout)
    assert "**keel**" in hit["snippet"] and "<!--" not in hit["snippet"], hit  # no marker
    bad = keel("search", "x", "--kind", "notes")
    assert bad.returncode == 2 and "search kind 'notes' is not one of" in bad.stderr
    again = keel("report", "compare", "--base", "HEAD~1", "--head", "HEAD",
                 "--save", "lr sweep, rerun", "--into", str(stored["id"]))  # fmt: skip
    assert again.returncode == 0 and f"report {stored['id']} version 2" in again.stdout
    first = keel("report", "show", str(stored["id"]), "--version", "1", "--json")
    assert json.loads(first.stdout)["title"] == "lr sweep"
    lone = keel("report", "compare", "--base", "HEAD~1", "--head", "HEAD", "--into", "1")
    assert lone.returncode == 2 and lone.stderr.strip() == (
        "Error: --into ID needs --save TITLE (the title of the new version)"
    )


def test_curves_are_chart_files_linked_from_the_markdown(world: World, tmp_path: Path) -> None:
    report = keel.reports.compare(world.base, world.head, client=world.client, repo=world.repo)
    files = keel.reports.write_charts(report, tmp_path / "charts")
    svg = tmp_path / "charts" / "curve-val_loss.svg"
    assert [p.name for p in files["val_loss"]][:1] == [svg.name]
    assert svg.read_text().startswith("<svg") and "polyline" in svg.read_text()
    png = svg.with_suffix(".png")  # matplotlib (keel[charts]) is installed in the test env
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = report.to_markdown(keel.reports.relative_links(files, tmp_path))
    assert "![val_loss](charts/curve-val_loss.png)" in md
    assert "curves are in the HTML report" not in md
    for run_id in world.base_runs + world.head_runs:  # live references for the UI
        assert run_id in md


def test_a_stored_report_links_its_uploaded_charts_and_keeps_versions(world: World) -> None:
    report = keel.reports.compare(world.base, world.head, client=world.client, repo=world.repo)
    first = keel.reports.save_report(report, title="charts", client=world.client)
    head_run = report.head.run_ids[0]  # the head side's first run holds the charts
    stored = {a.path for a in world.client.store.artifacts.list(head_run, "keel-report")}
    assert {"keel-report/curve-val_loss.svg", "keel-report/curve-val_loss.png"} <= stored
    link = f"/ui/p/reports/runs/{head_run}/raw/keel-report/curve-val_loss.png"
    assert f"![val_loss]({link})" in first.markdown and first.version == 1
    again = keel.reports.save_report(report, title="charts, again", into=first.id,
                                     charts=False, client=world.client)  # fmt: skip
    assert (again.id, again.version, again.title) == (first.id, 2, "charts, again")
    assert "![val_loss]" not in again.markdown
    old = keel.reports.get_report(first.id, version=1, client=world.client)
    assert (old.title, old.markdown) == ("charts", first.markdown)
    versions = keel.reports.report_versions(first.id, client=world.client)
    assert [(v.version, v.title) for v in versions] == [(2, "charts, again"), (1, "charts")]
    with pytest.raises(NotFoundError, match=f"report {first.id} has no version 7; it has 1-2"):
        keel.reports.get_report(first.id, version=7, client=world.client)
