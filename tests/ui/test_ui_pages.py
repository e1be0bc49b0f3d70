"""Every page of the web UI in real Chromium: it loads, draws, links, and logs no errors.

Screenshots land in test-artifacts/ui/ (kept by CI as test artifacts).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from uikit import Session, UIWorld  # type: ignore[import-not-found]

MODEL = "breast-cancer-classifier"


def _ids(world: UIWorld) -> dict[str, Any]:
    store = world.store()
    try:
        pid = store.projects.get("default").id
        exp = store.experiments.get_by_name(pid, "quickstart-breast-cancer")
        runs = store.runs.search([exp.id], "attributes.name != 'training'", max_results=10).runs
        pipeline = store.pipeline_runs.list(pid, pipeline="training", limit=1)[0]  # not retrain
        return {"exp": exp.id, "runs": [r.id for r in runs], "pipeline": pipeline.id}
    finally:
        store.close()


def test_projects_experiments_and_run_page(as_admin: Session, ui_world: UIWorld) -> None:
    ids = _ids(ui_world)
    page = as_admin.page
    page.goto(f"{ui_world.url}/ui/")
    assert page.locator("table.grid a", has_text="default").count() == 1
    as_admin.goto("/experiments")
    assert page.locator("a", has_text="quickstart-breast-cancer").count() == 1
    as_admin.goto(f"/experiments/{ids['exp']}")
    assert page.locator("#runs-table tbody tr").count() >= 3
    as_admin.shot("runs-table")
    as_admin.goto(f"/runs/{ui_world.ids['evil_run']}")
    page.wait_for_selector("#run-charts[data-done='1'] canvas")
    assert page.locator("#params th", has_text="p").count() >= 1
    assert "+lr=2" in page.locator("#git-diff").inner_text()
    page.select_option('#chart-controls select[name="x"]', "rel")
    page.locator('#chart-controls input[name="smooth"]').fill("0.8")
    assert page.locator("#artifacts a").count() == 8
    as_admin.shot("run")
    assert as_admin.errors == []


def test_artifact_previews(as_admin: Session, ui_world: UIWorld) -> None:
    run = ui_world.ids["evil_run"]
    page = as_admin.page

    def open_artifact(path: str) -> None:
        as_admin.goto(f"/runs/{run}/artifact?path={quote(path, safe='')}")

    open_artifact("data/table.csv")
    assert page.locator("#table-preview tbody tr").count() == 2
    assert page.locator("#table-preview td", has_text="<b>bold</b>").count() == 1
    open_artifact("data/table.parquet")
    assert page.locator("#table-preview tbody tr").count() == 50
    assert "of 100 rows" in page.content()
    open_artifact("plots/pixel.png")
    assert page.locator("img.preview").evaluate("img => img.naturalWidth") == 16
    as_admin.shot("artifact-image")
    open_artifact("notes/readme.txt")
    assert "<script>" in page.locator("#text-preview").inner_text()
    open_artifact("reports/report.html")
    frame = page.frame_locator("iframe.report")
    assert frame.locator("#h").inner_text() == "report"
    as_admin.shot("artifact-html")
    assert as_admin.errors == [] or all("Blocked script" in e for e in as_admin.errors)


def test_compare_view_curves_parallel_coordinates_and_diff(
    as_admin: Session, ui_world: UIWorld
) -> None:
    page = as_admin.page
    as_admin.goto(f"/experiments/{ui_world.ids['many_exp']}?size=25")
    for box in page.locator(".run-select").all()[:12]:
        box.check()
    page.click("#compare-selected")
    page.wait_for_url("**/compare?runs=*")
    page.wait_for_selector("#compare-charts[data-done='1'] canvas")
    assert page.locator("#diff-table tbody tr").count() == 12
    assert page.locator("#parallel svg polyline").count() == 12
    page.select_option("#pc-metric", "auc")
    page.select_option('#chart-controls select[name="x"]', "wall")
    as_admin.shot("compare")
    page.fill(".comment-form textarea", "compare **note**")
    page.click(".comment-form button")
    page.wait_for_selector(".comment .markdown strong")
    link = page.locator(".comment a.permalink").first.get_attribute("href")
    assert link is not None
    page.goto(ui_world.url + link)
    page.wait_for_selector(".comment.highlight")
    assert "compare?runs=" in page.url
    assert as_admin.errors == []


def test_lineage_datasets_and_pipelines(as_admin: Session, ui_world: UIWorld) -> None:
    page = as_admin.page
    as_admin.goto(f"/lineage?model={MODEL}&version=1")
    kinds = {
        k: page.locator(f"#lineage-graph a.node.{k}").count()
        for k in ("dataset", "run", "model", "deployment")
    }
    assert all(n >= 1 for n in kinds.values()), kinds
    as_admin.shot("lineage")
    page.locator("#lineage-graph a.node.deployment").first.click()
    page.wait_for_url("**/deployments/quickstart")
    as_admin.goto("/datasets/breast-cancer")
    assert page.locator("#versions tbody tr").count() == 2
    assert page.locator("#profile tbody tr").count() >= 30
    page.click("#diff-form button")
    page.wait_for_url("**/diff?a=1&b=2")
    assert page.locator("#stat-diff td", has_text="mean_radius").count() >= 1
    as_admin.shot("dataset-diff")
    as_admin.goto(f"/pipelines/runs/{_ids(ui_world)['pipeline']}")
    assert page.locator("#pipeline-dag a.node").count() == 3
    assert page.locator("#pipeline-dag path.edge").count() >= 2  # prepare -> train -> evaluate
    assert page.locator("#steps .status.cached, #steps .status.ran").count() == 3
    as_admin.shot("pipeline-dag")
    assert as_admin.errors == []


def test_registry_deployments_and_monitoring(as_admin: Session, ui_world: UIWorld) -> None:
    page = as_admin.page
    as_admin.goto(f"/models/{MODEL}")
    page.wait_for_selector("#history-chart[data-done='1'] canvas")
    as_admin.shot("model")
    as_admin.goto(f"/models/{MODEL}/1")
    assert "signed by key" in page.locator("#signing").inner_text()
    assert page.locator("#sig-inputs tbody tr").count() == 30
    as_admin.shot("model-version")
    as_admin.goto("/deployments/quickstart")
    assert page.locator("#targets tbody tr").count() == 1
    page.wait_for_selector("#requests-chart[data-done='1'] canvas")
    assert page.locator("#champion, #cc-none").count() == 1
    as_admin.shot("deployment")
    as_admin.goto("/monitoring")
    assert page.locator("#alerts tbody tr").count() >= 3
    as_admin.goto("/monitoring/quickstart?window=1d")
    assert page.locator("#drift-heatmap td.drifted").count() >= 1
    assert page.locator("#cohorts tbody tr").count() >= 2
    page.wait_for_selector("#performance[data-done='1'] canvas")
    as_admin.shot("monitoring")
    assert as_admin.errors == []
