"""Projects, experiments and the runs table (filter, sort, chosen columns, pages).

The table is one call to :meth:`RunRepository.search` per page with the SDK's filter
language; paging uses the repository's page tokens, with the tokens of earlier pages
carried in the URL (``back``) so "previous" needs no server state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Query, Request
from starlette.responses import RedirectResponse, Response

from keel.exceptions import InvalidArgumentError
from keel.server._auth import Guard, Principal, authenticated
from keel.server.ui._common import ProjectView, project_base, ui_router, viewing
from keel.server.ui._direction import cell_class, directions, extremes
from keel.server.ui._render import page
from keel.store import Experiment, Run
from keel.store.run_stats import Activity

router = ui_router()
PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_COLUMNS = 6
RUN_ATTRS = ("status", "user", "start_time", "end_time")
ENTITY_ORDER = ("metrics", "params", "tags")
#: A filtered count stops here and shows "10,000+": counting 50,000 matches of 100,000 runs
#: exactly takes longer than the page itself (issue 14: the page under 300 ms).
COUNT_CAP = 10_000


@dataclass(frozen=True)
class Column:
    """A chosen table column: ``metrics.auc``, ``params.lr`` or ``tags.team``."""

    entity: str  # metrics | params | tags
    key: str

    @property
    def ref(self) -> str:
        return f"{self.entity}.{self.key}"

    @property
    def order_key(self) -> str:
        return f"{self.entity}.`{self.key}`"

    def value(self, run: Run) -> Any:
        return getattr(run, self.entity).get(self.key)

    @property
    def numeric(self) -> bool:
        return self.entity == "metrics"


def parse_columns(values: list[str]) -> list[Column]:
    out = []
    for text in values:
        entity, _, key = text.partition(".")
        if entity not in ("metrics", "params", "tags") or not key:
            raise InvalidArgumentError(
                f"column {text[:80]!r} is not metrics.<key>, params.<key> or tags.<key>"
            )
        out.append(Column(entity, key))
    return out


def _default_columns(runs: list[Run]) -> list[Column]:
    metrics = sorted({k for r in runs for k in r.metrics if not k.startswith("system.")})
    params = sorted({k for r in runs for k in r.params})
    return [Column("metrics", k) for k in metrics[:DEFAULT_COLUMNS]] + [
        Column("params", k) for k in params[:DEFAULT_COLUMNS]
    ]


def _available(runs: list[Run]) -> dict[str, list[str]]:
    return {
        "metrics": sorted({k for r in runs for k in r.metrics}),
        "params": sorted({k for r in runs for k in r.params}),
        "tags": sorted({k for r in runs for k in r.tags if not k.startswith(("keel.", "mlflow."))}),
    }


@router.get("/", dependencies=[Depends(authenticated)])
async def root() -> Response:
    return RedirectResponse("/ui/", 303)


@router.get("/ui")
@router.get("/ui/")
def projects(request: Request, who: Principal = Depends(authenticated)) -> Response:
    st = request.app.state.keel
    visible = [p for p in st.store.projects.list() if who.role_in(p.id) is not None]
    activity = st.store.run_stats.by_project([p.id for p in visible])
    rows = [
        (p, str(who.role_in(p.id)), project_base(p.name), activity.get(p.id, Activity()))
        for p in visible
    ]
    return page(request, "projects.html", {"projects": rows})


@router.get("/ui/p/{project}")
@router.get("/ui/p/{project}/")
def project_home(view: ProjectView = viewing("experiments")) -> Response:
    return RedirectResponse(f"{view.base}/experiments", 303)


@router.get("/ui/p/{project}/experiments")
def experiments(request: Request, view: ProjectView = viewing("experiments")) -> Response:
    exps = view.store.experiments.list(view.project.id)
    activity = view.store.run_stats.by_experiment([e.id for e in exps])
    rows = [(e, activity.get(e.id, Activity())) for e in exps]
    return page(request, "experiments.html", view.context(experiments=rows))


@router.get("/ui/p/{project}/experiments/{experiment_id}")
def runs_table(
    request: Request,
    experiment_id: int,
    filter: str = Query(default="", max_length=4000),
    order: str = Query(default="", max_length=500),
    cols: list[str] = Query(default=[]),
    size: int = Query(default=50),
    page_token: str = Query(default="", alias="page", max_length=200),
    back: list[str] = Query(default=[]),
    view: ProjectView = viewing("experiments"),
) -> Response:
    exp = view.store.experiments.get(experiment_id)
    if exp.project_id != view.project.id:
        from keel.exceptions import NotFoundError

        raise NotFoundError(f"experiment id {experiment_id} does not exist in this project")
    size = size if size in PAGE_SIZES else 50
    columns = parse_columns([c for c in cols if c])
    runs, next_token, error = _search(view.guard, exp.id, filter, order, size, page_token)
    total = 0 if error else _count(view.guard, exp.id, filter.strip() or None)
    if not columns:
        columns = _default_columns(runs)
    columns = sorted(columns, key=lambda c: ENTITY_ORDER.index(c.entity))
    params = {"filter": filter, "order": order, "cols": [c.ref for c in columns], "size": size}
    context = view.context(
        experiment=exp,
        runs=runs,
        columns=columns,
        available=_available(runs),
        chosen={c.ref for c in columns},
        params=params,
        order=order,
        error=error,
        page_token=page_token,
        back=back[-500:],
        next_token=next_token,
        offset=len(back) * size,
        size=size,
        sizes=PAGE_SIZES,
        sort_link=lambda key: sort_link(order, key),
        total=total,
        total_cap=COUNT_CAP if filter.strip() else 0,
        groups=_groups(columns),
        **_best(exp, runs, columns),
    )
    return page(request, "runs.html", context)


def _count(guard: Guard, exp_id: int, filter: str | None) -> int:
    """The runs of the experiment (exact), or those matching ``filter`` up to ``COUNT_CAP``
    (more: ``COUNT_CAP + 1``)."""
    return guard.st.store.run_stats.count(exp_id, filter, cap=COUNT_CAP if filter else 0)


def _search(
    guard: Guard, exp_id: int, filter: str, order: str, size: int, token: str
) -> tuple[list[Run], str | None, str]:
    """One page of runs, the next page's token, and the filter's error if it has one (a
    typo in the filter is shown above the table, not as a 400 page)."""
    try:
        page = guard.st.store.runs.search(
            [exp_id],
            filter.strip() or None,
            order_by=[order] if order else None,
            max_results=size,
            page_token=token or None,
        )
    except InvalidArgumentError as exc:
        return [], None, str(exc)
    return page.runs, page.next_page_token, ""


def _groups(columns: list[Column]) -> list[tuple[str, int]]:
    """Header groups over the chosen columns: (``metrics``, 3), (``params``, 2) ..."""
    out: list[tuple[str, int]] = []
    for c in columns:
        if out and out[-1][0] == c.entity:
            out[-1] = (c.entity, out[-1][1] + 1)
        else:
            out.append((c.entity, 1))
    return out


def _best(exp: Experiment, runs: list[Run], columns: list[Column]) -> dict[str, Any]:
    """Which way each metric column is better, and a cell-class function marking the best
    and worst value on the page."""
    keys = [c.key for c in columns if c.entity == "metrics"]
    lower = directions(keys, [r.tags for r in runs] + [exp.tags])
    ext = extremes({k: [r.metrics.get(k) for r in runs] for k in keys}, lower)
    return {
        "lower": lower,
        "mark": lambda key, value: cell_class(ext.get(key), value),
    }


def sort_link(order: str, key: str) -> str:
    """The ``order`` value a click on a header sets: descending first, then ascending."""
    return f"{key} ASC" if order == f"{key} DESC" else f"{key} DESC"


__all__ = ["COUNT_CAP", "PAGE_SIZES", "Column", "parse_columns", "router", "sort_link"]
