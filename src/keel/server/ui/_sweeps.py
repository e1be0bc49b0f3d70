"""Sweeps (CR_3): every sweep of a project, and one sweep's optimisation history, parallel
coordinates of its trials, parameter importances (main effects), slice plots and its best trials.

The page reads every trial as an outline (number, state, value) and only the best trials
and an even sample of the others in full (:func:`keel.tuning.describe_sweep`), so a
10,000-trial sweep stays responsive. The history is drawn as SVG here; the parallel
coordinates reuse the compare page's script over the best trials (at most :data:`MAX_LINES`).

The trial table is the runs table's search (each trial is a child run of the sweep's run,
:func:`keel.tuning.trial_query`): the same filter language, sort keys and keyset pages
(tokens of earlier pages carried in ``back``), best value first unless sorted otherwise.
It is also served alone (``/sweeps/<name>/trials``): the table's links fetch that and swap
it in place (``static/sweep.js``), so filtering does not rebuild the charts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Depends, Query, Request
from starlette.responses import Response

from keel.exceptions import InvalidArgumentError, NotFoundError
from keel.server.ui._common import ProjectView, ui_router, viewing
from keel.server.ui._render import page, round_num
from keel.server.ui._runs import PAGE_SIZES, sort_link
from keel.server.ui._sweep_slices import slices
from keel.store import Run

router = ui_router()
MAX_LINES = 300
MAX_ROWS = 100
MAX_POINTS = 500
W, H, PAD = 720.0, 240.0, 36.0
#: A filtered trial count stops here ("1,000+ trials"): every trial of a 10,000-trial sweep
#: is a run of one experiment, so counting every match costs a scan of all of them.
COUNT_CAP = 1_000


@router.get("/ui/p/{project}/sweeps")
def sweeps(request: Request, view: ProjectView = viewing("sweeps")) -> Response:
    from keel.tuning import list_sweeps

    found = list_sweeps(store=view.store, project_id=view.project.id)
    return page(request, "sweeps.html", view.context(sweeps=found))


@dataclass(frozen=True)
class TableArgs:
    """The trial table's query: the generation, the user's filter and order, the page."""

    generation: int | None
    filter: str
    order: str
    size: int
    token: str
    back: list[str]


def table_args(
    generation: int | None = Query(default=None, ge=1, le=2**31 - 1),
    filter: str = Query(default="", max_length=4000),
    order: str = Query(default="", max_length=500),
    size: int = Query(default=50),
    page_token: str = Query(default="", alias="page", max_length=200),
    back: list[str] = Query(default=[]),
) -> TableArgs:
    return TableArgs(generation, filter, order, size, page_token, back[-500:])


@router.get("/ui/p/{project}/sweeps/{name}")
def sweep_page(
    request: Request,
    name: str,
    args: TableArgs = Depends(table_args),
    view: ProjectView = viewing("sweeps"),
) -> Response:
    from keel.tuning import describe_sweep

    rep = describe_sweep(
        name,
        generation=args.generation,
        top=MAX_ROWS,
        importance="main-effects",  # milliseconds; fANOVA stays with `keel sweep show`
        store=view.store,
        project_id=view.project.id,
    )
    generations = view.store.sweeps.list(view.project.id, name=name)
    metric = str(rep.sweep.spec.get("metric", "objective"))
    context = view.context(
        rep=rep,
        metric=metric,
        generations=generations,
        history=history(rep.points, rep.sweep.directions[0] == "maximize"),
        importances=[(k, v, round(v * 100, 1)) for k, v in rep.importances.items()],
        data=_parallel(rep, metric),
        slices=slices(rep.trials, rep.sweep.spec.get("space"), rep.best[0] if rep.best else None),
        table=trial_table(view, rep.sweep, args),
    )
    return page(request, "sweep.html", context)


@router.get("/ui/p/{project}/sweeps/{name}/trials")
def sweep_trials(
    request: Request,
    name: str,
    args: TableArgs = Depends(table_args),
    view: ProjectView = viewing("sweeps"),
) -> Response:
    """The trial table alone (the sweep page's filter, sort and page links fetch it and
    swap it in place): one sweep lookup and one runs search, no outline, sample or charts."""
    sweep = view.store.sweeps.get(view.project.id, name, generation=args.generation)
    metric = str(sweep.spec.get("metric", "objective"))
    table = trial_table(view, sweep, args)
    return page(request, "_sweep_trials.html", view.context(metric=metric, table=table))


def fragment_url(base: str, name: str) -> str:
    """Where the trial table alone is served, for the page's script."""
    return f"{base}/sweeps/{quote(name, safe='')}/trials"


def trial_table(view: ProjectView, sweep: Any, args: TableArgs) -> dict[str, Any]:
    """One page of the generation's trials (child runs) matching ``args.filter``, in
    ``args.order`` (default: best value first); a filter or order that does not parse
    becomes the table's one-line error. The (capped) count is only taken when there is a
    next page: otherwise the rows on this page and the earlier pages are all there is."""
    from keel.tuning import trial_query

    size = args.size if args.size in PAGE_SIZES else 50
    filter, order, token = args.filter, args.order, args.token
    params = {"generation": args.generation, "filter": filter, "order": order, "size": size}
    metric = "metrics.`{}`".format(str(sweep.spec.get("metric") or "objective").replace("`", ""))
    out: dict[str, Any] = {
        "params": params, "size": size, "sizes": PAGE_SIZES, "back": args.back, "token": token,
        "offset": len(args.back) * size, "cap": COUNT_CAP if filter.strip() else 0,
        "metric_key": metric, "order": order, "runs": [], "next_token": None, "total": 0,
        "error": "", "columns": _param_keys(sweep, []),
        "fragment": fragment_url(view.base, sweep.name),
    }  # fmt: skip
    out["sort_link"] = lambda key: sort_link(out["order"], key)
    store = view.store
    try:
        query = trial_query(sweep, filter, store=store)
        found = store.runs.search(
            [query.experiment_id],
            query.filter,
            order_by=[order or query.order],
            max_results=size,
            page_token=token or None,
        )
    except (InvalidArgumentError, NotFoundError) as exc:  # a typo; a sweep without runs
        return out | {"error": str(exc)}
    total = out["offset"] + len(found.runs)
    if found.next_page_token:
        total = store.run_stats.count(query.experiment_id, query.filter, cap=out["cap"])
    out |= {"runs": found.runs, "next_token": found.next_page_token, "total": total}
    out |= {"order": order or query.order, "columns": _param_keys(sweep, found.runs)}
    return out


def _param_keys(sweep: Any, runs: list[Run]) -> list[str]:
    """The table's param columns: the space's, else those on the page."""
    space = sweep.spec.get("space")
    if isinstance(space, dict) and space:
        return [str(k) for k in space]
    return sorted({k for r in runs for k in r.params})


def history(points: list[Any], maximize: bool) -> dict[str, Any]:
    """SVG geometry of the optimisation history from the completed trials' outlines (by
    number): an even sample of at most :data:`MAX_POINTS` values, and the best value so far
    as a step line over all of them."""
    done = [
        (p.number, p.value) for p in points if p.state.value == "COMPLETE" and p.value is not None
    ]
    if not done:
        return {"points": [], "best": "", "w": W, "h": H, "labels": []}
    xs = [n for n, _ in done]
    ys = [v for _, v in done]
    x0, x1 = min(xs), max(max(xs), min(xs) + 1)
    y0, y1 = min(ys), max(ys)
    if y1 <= y0:
        y0, y1 = y0 - 0.5, y1 + 0.5

    def px(n: float) -> float:
        return round(PAD + (n - x0) / (x1 - x0) * (W - 2 * PAD), 1)

    def py(v: float) -> float:
        return round(H - PAD - (v - y0) / (y1 - y0) * (H - 2 * PAD), 1)

    best: float | None = None
    line = []
    for n, v in done:
        if best is None or (v > best if maximize else v < best):
            if best is not None:  # a step: flat until this trial, then down (or up)
                line.append(f"{px(n)},{py(best)}")
            best = v
            line.append(f"{px(n)},{py(best)}")
    line.append(f"{px(done[-1][0])},{py(best)}")  # type: ignore[arg-type]
    stride = -(-len(done) // MAX_POINTS)  # a 10,000-trial sweep: every 20th point
    points = [(px(n), py(v), n, round_num(v)) for n, v in done[::stride]]  # v as text: cheap
    labels = [(py(y0), y0), (py(y1), y1)]
    return {"points": points, "best": " ".join(line), "w": W, "h": H, "labels": labels}


def _parallel(rep: Any, metric: str) -> dict[str, Any]:
    """The compare page's parallel-coordinates data, over the best trials."""
    rows: list[dict[str, Any]] = [
        {
            "id": t.run_id or str(t.number),
            "name": f"trial {t.number}",
            "params": {k: v for k, v in p.items()},
            "metrics": {metric: t.values[0] if t.values else None},
        }
        for t, p in zip(rep.best[:MAX_LINES], rep.best_params[:MAX_LINES], strict=True)
    ]
    keys = sorted({k for r in rows for k in r["params"]})
    axes = [
        {
            "key": k,
            "numeric": all(
                isinstance(r["params"].get(k), int | float)
                and not isinstance(r["params"].get(k), bool)
                for r in rows
                if r["params"].get(k) is not None
            ),
        }
        for k in keys
    ]
    lower = {metric: rep.sweep.directions[0] == "minimize"}
    return {"runs": [], "keys": [], "parallel": {"runs": rows, "axes": axes}, "lower": lower}


__all__ = ["TableArgs", "history", "router", "table_args"]
