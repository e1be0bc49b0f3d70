"""What the UI shows, server side: metric direction, rounded numbers, counts, unique labels,
histograms, inline previews and the navigation on error pages (issue 14)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from keel.store import Metric, Store

HTML = {"accept": "text/html"}


def test_direction_is_inferred_from_the_name_and_a_tag_overrides_it() -> None:
    from keel.server.ui._direction import directions, lower_is_better

    lower = ["val_loss", "loss", "test-rmse", "mae", "logloss", "p99_latency_ms", "error_rate",
             "train/err", "perplexity", "crossentropy_loss"]  # fmt: skip
    higher = ["accuracy", "auc", "f1", "val_acc", "r2", "precision", "recall", "ndcg@10"]
    assert all(lower_is_better(m) for m in lower), [m for m in lower if not lower_is_better(m)]
    assert not any(lower_is_better(m) for m in higher)
    tags = [{"keel.metric_direction.auc": "min"}, {"keel.metric_direction.loss": "max"}]
    assert directions(["auc", "loss", "f1"], tags) == {"auc": True, "loss": False, "f1": False}


def test_numbers_are_rounded_with_the_full_value_on_hover() -> None:
    from keel.server.ui._render import fmt_num

    assert str(fmt_num(0.04356651686796236)) == ('<span title="0.04356651686796236">0.04357</span>')
    assert str(fmt_num(1234567)) == "1,234,567"
    assert str(fmt_num(569.0)) == "569"
    assert str(fmt_num(0.5)) == "0.5"
    assert str(fmt_num(None)) == "-"
    from keel.server.ui._render import fmt_value

    long = "0.016666666666666666"
    assert str(fmt_value(long)) == f'<span title="{long}">0.01667</span>'
    assert str(fmt_value("20260101123")) == "20260101123"  # ids and seeds stay as they are
    assert str(fmt_value("<b>")) == "&lt;b&gt;"
    assert str(fmt_num(1.5e-7)).endswith(">1.5e-7</span>") or str(fmt_num(1.5e-7)) == "1.5e-7"


def _runs(store: Store, exp_name: str, rows: list[tuple[str, dict[str, float]]]) -> list[str]:
    project = store.projects.get("default")
    exp = store.experiments.create(project.id, exp_name)
    ids = []
    for i, (name, metrics) in enumerate(rows):
        run = store.runs.create(exp.id, name=name)
        points = [Metric(k, v, 0, 1_000 + i) for k, v in metrics.items()]
        store.runs.log_batch(run.id, metrics=points, params={"i": str(i)})
        ids.append(run.id)
    return ids


def _cell_classes(html: str, table_id: str) -> list[str]:
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<td class="(num[^"]*)"', body)


def test_compare_colours_the_best_by_direction_and_labels_runs_apart(
    ui_client: Any, sqlite_store: Store
) -> None:
    ids = _runs(
        sqlite_store,
        "cmp",
        [("same", {"val_loss": 0.148, "acc": 0.9}), ("same", {"val_loss": 0.017, "acc": 0.8})],
    )
    html = ui_client.get(f"/ui/p/default/compare?runs={','.join(ids)}", headers=HTML).text
    # acc then val_loss per row: run 1 has the best acc and the worst val_loss
    assert _cell_classes(html, "diff-table") == ["num best max", "num worst max",
                                                 "num worst min", "num best min"]  # fmt: skip
    assert f"same · {ids[0][:6]}" in html and f"same · {ids[1][:6]}" in html
    assert 'id="compare-legend"' in html and 'id="image-gallery"' not in html  # no images
    blob = sqlite_store.blobs.put_bytes(b"\x89PNG")
    sqlite_store.artifacts.add(ids[1], [("plots/roc curve.png", blob)])
    html = ui_client.get(f"/ui/p/default/compare?runs={','.join(ids)}", headers=HTML).text
    gallery = html.split('id="image-gallery"', 1)[1].split("</table>", 1)[0]
    assert f'src="/ui/p/default/runs/{ids[1]}/raw/plots/roc%20curve.png"' in gallery
    assert gallery.count("<img") == 1


def test_runs_table_counts_rounds_and_marks_the_best(ui_client: Any, sqlite_store: Store) -> None:
    rows = [(f"r{i}", {"loss": 1 / (i + 3), "auc": 0.04356651686796236 + i}) for i in range(7)]
    _runs(sqlite_store, "tbl", rows)
    exp = sqlite_store.experiments.get_by_name(sqlite_store.projects.get("default").id, "tbl")
    url = f"/ui/p/default/experiments/{exp.id}"
    html = ui_client.get(url + "?size=25", headers=HTML).text
    assert "1\u20137 of 7 runs" in html
    assert '<span title="0.04356651686796236">0.04357</span>' in html
    best = re.findall(r'<td class="num best"[^>]*>(.*?)</td>', html)
    assert len(best) == 2 and "6.044" in best[0] and "0.1111" in best[1]  # auc max, loss min
    filtered = ui_client.get(url, params={"filter": "metrics.auc > 3"}, headers=HTML).text
    assert "1\u20134 of 4 runs" in filtered
    bad = ui_client.get(url, params={"filter": "metrics.auc >>> 1"}, headers=HTML).text
    assert 'id="filter-error"' in bad and "0\u20130" not in bad and 'id="run-count"' not in bad


def test_projects_and_experiments_show_run_counts_and_activity(
    ui_client: Any, sqlite_store: Store
) -> None:
    _runs(sqlite_store, "counted", [("a", {"m": 1.0}), ("b", {"m": 2.0})])
    html = ui_client.get("/ui/", headers=HTML).text
    assert re.search(r'default</a></td><td>[^<]*</td><td class="num">2</td>', html)
    exps = ui_client.get("/ui/p/default/experiments", headers=HTML).text
    assert re.search(r'counted</a></td><td class="num">2</td><td class="nowrap">\d{4}-', exps)


@pytest.mark.parametrize(
    "path", ["/ui/nosuch", "/ui/p/default/nosuch", "/ui/p/default/runs/nope", "/ui/p/zz/x"]
)
def test_error_pages_keep_the_navigation(ui_client: Any, path: str) -> None:
    resp = ui_client.get(path, headers=HTML)
    assert resp.status_code == 404
    assert 'id="project-switcher"' in resp.text and 'aria-label="sections"' in resp.text
    if "/p/default/" in path:
        assert "/ui/p/default/datasets" in resp.text  # the project's own sections


def test_run_page_shows_images_and_small_tables_inline(ui_client: Any, sqlite_store: Store) -> None:
    (run_id,) = _runs(sqlite_store, "art", [("a", {"m": 1.0})])
    blobs = sqlite_store.blobs
    files = [("plots/a b.png", b"\x89PNG"), ("t.csv", b"x,y\n" + b"1,2\n" * 30)]
    for path, data in files:
        sqlite_store.artifacts.add(run_id, [(path, blobs.put_bytes(data))])
    html = ui_client.get(f"/ui/p/default/runs/{run_id}", headers=HTML).text
    assert f'<img src="/ui/p/default/runs/{run_id}/raw/plots/a%20b.png"' in html
    table = html.split('class="grid inline-table"', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == 11  # header + the first 10 rows


def test_histograms_come_from_the_stored_profile() -> None:
    from keel.server.ui._datasets import histogram

    quantiles = {"p5": 0.5, "p25": 2.5, "p50": 5.0, "p75": 7.5, "p95": 9.5}
    numeric = {"min": 0.0, "max": 10.0, "count": 100, "quantiles": quantiles}
    bars = histogram(numeric)
    assert len(bars) == 6 and abs(sum(b.w for b in bars) - 160) < 1e-6
    heights = [b.h for b in bars]
    assert max(heights) == pytest.approx(36) and heights[0] == pytest.approx(heights[2])
    top = histogram({"top": [{"value": "a", "count": 8}, {"value": "b", "count": 2}], "count": 10})
    assert [round(b.h) for b in top] == [36, 9] and "80%" in top[0].title
    assert histogram({"min": None, "max": None}) == []


def test_a_column_of_few_values_is_drawn_as_value_counts_inside_the_chart() -> None:
    import pyarrow as pa

    from keel.data._profile import profile_of
    from keel.server.ui._datasets import histogram

    target = profile_of(pa.table({"target": [1] * 63 + [0] * 37}))["columns"]["target"]
    bars = histogram(target)
    assert [b.title for b in bars] == ["0: 37 (37%)", "1: 63 (63%)"]
    assert bars[1].h == pytest.approx(36) and bars[0].h == pytest.approx(36 * 37 / 63)
    # a profile stored before value counts: quantiles only, all 0 or 1
    quantiles = {"p5": 0, "p25": 0, "p50": 1, "p75": 1, "p95": 1}
    old = histogram({"min": 0, "max": 1, "count": 100, "quantiles": quantiles})
    assert all(b.x >= 0 and b.x + b.w <= 160 + 1e-9 for b in old)
    assert [b.title for b in old] == [
        "min to p25: 0 (25% of values)",
        "p25 to p50: 0 to 1 (25% of values)",
        "p50 to max: 1 (50% of values)",
    ]


def test_dataset_page_shows_the_first_rows_of_a_table(ui_client: Any, sqlite_store: Store) -> None:
    import pandas as pd

    from keel.data import DatasetClient

    project = sqlite_store.projects.get_or_create("default")
    frame = pd.DataFrame({"city": [f"c{i}" for i in range(30)], "rate": [i / 8 for i in range(30)]})
    DatasetClient(sqlite_store, project).log("cities", frame)
    html = ui_client.get("/ui/p/default/datasets/cities", headers=HTML).text
    table = html.split('id="sample-rows"', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == 21  # header + the first 20 rows
    assert '<td class="clip">c19</td>' in table and "c20<" not in table
    assert "the first 20 rows of v1" in html
