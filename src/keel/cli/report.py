"""``keel report``: comparison reports for merge requests, and posting them as one comment."""

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from keel.cli import _context
from keel.cli._options import JSON, check_out_path
from keel.cli._render import console, escape, outcome, print_json

if TYPE_CHECKING:
    from keel.reports import Comparison

app = typer.Typer(
    help="Compare two sides (git refs, runs, model@alias, experiments) for a merge request.",
    no_args_is_help=True,
)

SIDE_HELP = (
    "A git ref or commit (runs tagged with it), a run id, a model version (churn@champion, "
    "churn/3) or an experiment; prefix run:, model:, git: or experiment: to say which."
)


@app.callback()
def _group() -> None:
    """Compare two sides for a merge request; post the report as one MR/PR comment."""


CHARTS = typer.Option(
    None,
    "--charts",
    metavar="DIR",
    help="Write the curves as SVG (and PNG with keel[charts]) here; --md links them.",
)
INTO = typer.Option(
    None, "--into", metavar="ID", help="With --save: store it as the next version of report ID."
)


@app.command("compare")
def compare(
    base: str = typer.Option(..., "--base", "-b", help=SIDE_HELP),
    head: str = typer.Option(..., "--head", help=SIDE_HELP),
    out: Path = typer.Option(None, "--out", "-o", help="Write the self-contained HTML here."),
    md: Path = typer.Option(None, "--md", help="Write the Markdown (an MR comment) here."),
    repo: Path = typer.Option(
        None, "--repo", help="Git checkout to resolve refs and diff code in (default: here)."
    ),
    save: str = typer.Option(
        None, "--save", metavar="TITLE", help="Store the report under this title."
    ),
    charts: Path = CHARTS,
    into: int = INTO,
    json_: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
) -> None:
    """Metric deltas (with noise bands), param, dataset, code and notebook changes.

    Example: keel report compare --base main --head HEAD --md report.md --out report.html
    """
    from keel.reports import compare as compare_sides

    if into is not None and save is None:
        from keel.exceptions import InvalidArgumentError

        raise InvalidArgumentError("--into ID needs --save TITLE (the title of the new version)")
    check_out_path(md)
    check_out_path(out)
    report = compare_sides(base, head, client=_context.reader(), repo=repo)
    markdown = _store_and_chart(report, save, into, charts, md)
    if md is not None:
        md.write_text(markdown, encoding="utf-8")
    if out is not None:
        out.write_text(report.to_html(), encoding="utf-8")
    if json_:
        print_json(report)
        return
    if md is None and out is None:
        console().print(markdown, markup=False, highlight=False)
        return
    wrote = ", ".join(str(p) for p in (md, out) if p is not None)
    better = sum(m.verdict == "better" for m in report.metrics)
    worse = sum(m.verdict == "worse" for m in report.metrics)
    console().print(
        f"{escape(report.head.label)} vs {escape(report.base.label)}: "
        f"{better} metric(s) better, {worse} worse, {len(report.params)} param(s) changed; "
        f"wrote {escape(wrote)}"
    )


def _store_and_chart(
    report: "Comparison", save: str | None, into: int | None, charts: Path | None, md: Path | None
) -> str:
    """Store the report (``--save``) and write its charts (``--charts``); its Markdown."""
    markdown = report.to_markdown()
    if save is not None:
        from keel.reports import save_report

        stored = save_report(report, title=save, into=into, client=_context.client())
        markdown = stored.markdown  # its curves link to the uploaded charts
        console().print(
            f"stored as report {stored.id} version {stored.version}; "
            f"see keel report show {stored.id}"
        )
    if charts is not None:
        from keel.reports import relative_links, write_charts

        files = write_charts(report, charts)
        markdown = report.to_markdown(relative_links(files, (md or Path("x")).parent) or None)
    return markdown


@app.command("post")
def post(
    md: Path = typer.Option(..., "--md", help="The Markdown report to post (from compare --md)."),
    json_: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Post the report as ONE comment on this GitLab MR or GitHub PR, updating it on re-runs.

    Reads CI_PROJECT_ID, CI_MERGE_REQUEST_IID, CI_API_V4_URL and GITLAB_TOKEN (GitLab) or
    GITHUB_REPOSITORY, GITHUB_EVENT_PATH / GITHUB_REF and GITHUB_TOKEN (GitHub).
    """
    from keel.exceptions import InvalidArgumentError
    from keel.reports import post_comment

    if not md.is_file():
        raise InvalidArgumentError(
            f"--md {md} does not exist; write it with keel report compare --md"
        )
    result = post_comment(md.read_text(encoding="utf-8"))
    outcome(
        result, json_, f"{result.action} comment {result.comment_id} on {escape(result.target)}"
    )


@app.command("list")
def list_(
    limit: int = typer.Option(50, "--limit", "-n", min=1),
    json_: bool = JSON,
) -> None:
    """Stored reports, newest first."""
    from keel.cli._render import fmt_time, listing
    from keel.reports import list_reports

    reports = list_reports(client=_context.reader(), limit=limit)
    listing(
        reports,
        json_,
        "Reports",
        ["id", "title", "base", "head", "author", "version", "updated"],
        lambda r: [r.id, r.title, r.base, r.head, r.author, r.version, fmt_time(r.updated_at)],
        empty="no stored reports; keel report compare ... --save TITLE stores one",
    )


@app.command("show")
def show(
    report_id: int = typer.Argument(..., help="The report id (see keel report list)."),
    version: int = typer.Option(None, "--version", "-v", help="An earlier version."),
    json_: bool = JSON,
) -> None:
    """A stored report's Markdown (the latest version unless --version)."""
    from keel.reports import get_report

    report = get_report(report_id, version=version, client=_context.reader())
    if json_:
        print_json(report)
        return
    console().print(report.markdown, markup=False, highlight=False)
