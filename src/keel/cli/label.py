"""``keel label``: labeling projects, task import/export (Label Studio JSON), status with
agreement, production samples, and labels sent back as feedback."""

import io
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import typer

from keel.cli import _context
from keel.cli._options import JSON
from keel.cli._render import console, escape, print_json, print_table

if TYPE_CHECKING:
    from keel.store import Store

app = typer.Typer(
    help="Label data: projects, queues, agreement, Label Studio JSON, production samples.",
    no_args_is_help=True,
)

#: keel.labeling.METHODS, spelt out so that Typer refuses any other (a test keeps them equal)
Method = Literal["majority", "dawid-skene"]
METHOD = typer.Option("majority", "--method", help="Aggregation: majority or dawid-skene.")


def _pid(*, create: bool = False) -> int:
    return _context.project(create=create).id


def _label_config(kind: str, labels: str, field: str | None, config: Path | None) -> dict[str, Any]:
    """The label config from ``--config`` or the options, checked before the project is
    made (a bad one leaves none behind)."""
    from keel import labeling
    from keel.exceptions import InvalidArgumentError

    if config is not None:
        try:
            raw: dict[str, Any] = json.loads(config.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise InvalidArgumentError(f"--config {str(config)!r}: {exc}") from exc
    else:
        raw = {"kind": kind, "labels": [x.strip() for x in labels.split(",") if x.strip()]}
        if field:
            raw["field"] = field
    labeling.parse_config(raw)
    return raw


@app.command()
def create(
    name: str = typer.Argument(..., help="Labeling project name."),
    kind: str = typer.Option(
        "classification",
        "--kind",
        "-k",
        help="classification, multilabel, spans, boxes or text.",
    ),
    labels: str = typer.Option("", "--labels", "-l", help="Comma-separated labels."),
    field: str = typer.Option(None, "--field", help="The task data field to label."),
    overlap: int = typer.Option(1, "--overlap", help="Annotators per task."),
    double_share: float = typer.Option(
        None,
        "--double-share",
        help="Only this share of the tasks (0..1, e.g. 0.2) goes to --overlap annotators "
        "(2 when --overlap is 1), the rest to one; agreement is over that share.",
    ),
    instructions: str = typer.Option("", "--instructions", help="Shown to annotators."),
    config: Path = typer.Option(None, "--config", help="A label config JSON file instead."),
    json_: bool = JSON,
) -> None:
    """Create a labeling project."""
    from keel import labeling

    raw = _label_config(kind, labels, field, config)
    project = labeling.create_project(
        _context.store(),
        _pid(create=True),
        name,
        raw,
        instructions=instructions,
        overlap=overlap,
        double_share=double_share,
    )
    if json_:
        print_json(project)
    else:
        console().print(
            f"Created labeling project [bold]{escape(name)}[/] ({project.config['kind']}, "
            f"{_overlap(project)})."
        )


def _overlap(project: Any) -> str:
    if project.double_share is None:
        return f"{project.overlap} annotator(s) per task"
    return (
        f"{project.overlap} annotators for {project.double_share:.0%} of the tasks, 1 for the rest"
    )


@app.command("import")
def import_(
    name: str = typer.Argument(...),
    source: str = typer.Argument(
        ...,
        help="Label Studio JSON export, a JSON list of data, a folder of texts or images, "
        "or dataset:NAME[@VERSION].",
    ),
    json_: bool = JSON,
) -> None:
    """Import tasks (and their Label Studio annotations)."""
    from keel import labeling

    # the labeling project must exist already, so its project too: a read of it
    result = labeling.import_tasks(_context.store(), _pid(), name, source)
    if json_:
        print_json(result)
    else:
        console().print(
            f"Imported {result.tasks} task(s) and {result.annotations} annotation(s)"
            + (
                f"; {result.cancelled} cancelled annotation(s) left out."
                if result.cancelled
                else "."
            )
        )


@app.command()
def export(
    name: str = typer.Argument(...),
    format_: str = typer.Option(
        "labelstudio", "--format", "-f", help="labelstudio (JSON), labels (JSON rows) or dataset."
    ),
    out: Path = typer.Option(None, "--out", "-o", help="Write here instead of stdout."),
    dataset: str = typer.Option(None, "--dataset", help="Dataset name (--format dataset)."),
    method: Method = METHOD,
    json_: bool = JSON,
) -> None:
    """Export tasks and annotations, or the aggregated labels as a keel dataset version."""
    from keel import labeling
    from keel.exceptions import InvalidArgumentError

    store, pid = _context.store(), _pid()
    if format_ == "dataset":
        version = labeling.export_dataset(store, pid, name, dataset or name, method=method)
        if json_:
            print_json(version)
        else:
            console().print(
                f"Dataset [bold]{escape(dataset or name)}[/] version {version.version}: "
                f"{version.num_rows} labelled task(s)."
            )
        return
    if format_ == "labelstudio":
        _write_labelstudio(store, pid, name, out)
        return
    if format_ != "labels":
        raise InvalidArgumentError(f"--format {format_!r}: use labelstudio, labels or dataset")
    data = labeling.export_rows(store, pid, name, method=method)
    text = json.dumps(data, ensure_ascii=False)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text, encoding="utf-8")
        console().print(f"Wrote {len(data)} record(s) to {escape(str(out))}.")


def _write_labelstudio(store: "Store", pid: int, name: str, out: Path | None) -> None:
    """Stream the Label Studio JSON to stdout, or to a file that appears whole (written
    beside it, then renamed) so a failed export never leaves half a file."""
    from keel import labeling

    if out is None:
        binary = getattr(sys.stdout, "buffer", None)
        if binary is None:  # a text-only stdout (captured output, an in-process caller)
            held = io.BytesIO()
            labeling.write_labelstudio(store, pid, name, held)
            typer.echo(held.getvalue().decode("utf-8"))
            return
        sys.stdout.flush()
        labeling.write_labelstudio(store, pid, name, binary)
        binary.write(b"\n")
        binary.flush()
        return
    part = out.with_name(f".{out.name}.part")
    try:
        with part.open("wb") as fh:
            count = labeling.write_labelstudio(store, pid, name, fh)
        os.replace(part, out)
    finally:
        part.unlink(missing_ok=True)
    console().print(f"Wrote {count} record(s) to {escape(str(out))}.")


@app.command()
def status(
    name: str = typer.Argument(None, help="A labeling project (all of them when omitted)."),
    json_: bool = JSON,
) -> None:
    """Progress, agreement (Cohen, Fleiss, Krippendorff) and the review queue."""
    from keel import labeling

    store, pid = _context.store(), _pid()
    if name is None:
        projects = store.labeling.list_projects(pid)
        if json_:
            print_json(projects)
            return
        rows = [[p.name, p.config.get("kind", ""), _overlap(p)] for p in projects]
        print_table("Labeling projects", ["name", "kind", "overlap"], rows)
        return
    found = labeling.status(store, pid, name)
    if json_:
        print_json(found)
        return
    p, a = found.progress, found.agreement
    console().print(
        f"[bold]{escape(name)}[/]: {p.tasks} task(s), {p.complete} complete, "
        f"{p.annotations} answer(s), {p.skipped} skipped, {p.in_progress} in progress; "
        f"{found.review} to review"
    )
    if a is not None:

        def fmt(v: float | None) -> str:
            return "-" if v is None else f"{v:.3f}"

        console().print(
            f"agreement over {a.tasks} task(s): {fmt(a.percent)} raw, Fleiss' kappa "
            f"{fmt(a.fleiss_kappa)}, Krippendorff's alpha {fmt(a.krippendorff_alpha)}"
        )
        if a.pairs:
            print_table(
                "Cohen's kappa per pair",
                ["annotator", "annotator", "tasks", "kappa"],
                [[x.a, x.b, str(x.tasks), fmt(x.cohen_kappa)] for x in a.pairs],
            )


@app.command()
def check(
    name: str = typer.Argument(...),
    floor: float = typer.Option(0.6, "--min-alpha", help="Alert below this Krippendorff alpha."),
    min_tasks: int = typer.Option(10, "--min-tasks", help="Judge only with this many tasks."),
    json_: bool = JSON,
) -> None:
    """Alert when annotators' agreement drops below a floor (resolves it when it recovers)."""
    from keel import labeling

    found = labeling.check_agreement(
        _context.store(), _pid(), name, floor=floor, min_tasks=min_tasks
    )
    if json_:
        print_json(found)
        return
    alpha = "-" if found.alpha is None else f"{found.alpha:.3f}"
    verdict = "ok" if found.ok else "below the floor"
    tail = f"; alert {found.alert_id} {found.event}" if found.event else ""
    console().print(f"Krippendorff's alpha {alpha} (floor {found.floor:g}): {verdict}{tail}")


@app.command()
def relabel(
    name: str = typer.Argument(...),
    n: int = typer.Option(20, "--n", "-n", help="Labelled tasks to send back (0: only score)."),
    floor: float = typer.Option(
        0.8, "--min-agreement", help="Alert when re-labels match the original less often."
    ),
    min_answers: int = typer.Option(10, "--min-answers", help="Judge a round with this many."),
    seed: int = typer.Option(None, "--seed", help="Random seed (repeatable samples)."),
    json_: bool = JSON,
) -> None:
    """Re-label check, for a schedule: score earlier rounds, alert on a drop, send a new one."""
    from keel import labeling

    found = labeling.relabel_check(
        _context.store(), _pid(), name, n=n, floor=floor, min_answers=min_answers, seed=seed
    )
    if json_:
        print_json(found)
        return
    rows = [
        [
            str(r.round),
            str(r.sent),
            str(r.answered),
            "-" if r.agreement is None else f"{r.agreement:.3f}",
        ]
        for r in found.rounds
    ]
    if rows:
        print_table("Re-label rounds", ["round", "sent", "answered", "agreement"], rows)
    tail = f"; alert {found.alert_id} {found.event}" if found.event else ""
    verdict = "ok" if found.ok else f"below {found.floor:g}"
    console().print(f"Sent {len(found.sent)} task(s) back for re-labelling; {verdict}{tail}.")


@app.command()
def sample(
    name: str = typer.Argument(...),
    deployment: str = typer.Option(..., "--deployment", "-d"),
    strategy: str = typer.Option(
        "random", "--strategy", help="random, lowest-confidence or stratified (by cohort)."
    ),
    by: str = typer.Option(
        "", "--by", help="Cohort columns for stratified (default: the monitor's cohorts)."
    ),
    n: int = typer.Option(50, "--n", "-n", help="How many predictions to sample."),
    window: str = typer.Option("30d", "--window", help="How far back to look (7d, 12h...)."),
    seed: int = typer.Option(None, "--seed", help="Random seed (repeatable samples)."),
    confidence_column: str = typer.Option(
        None, "--confidence-column", help="The output that holds the model's confidence."
    ),
    json_: bool = JSON,
) -> None:
    """Send served predictions to labeling, keeping their request ids."""
    from keel import labeling

    ids = labeling.sample(
        _context.store(),
        _pid(),
        name,
        deployment,
        strategy=strategy,
        n=n,
        window=window,
        seed=seed,
        confidence_column=confidence_column,
        by=[c.strip() for c in by.split(",") if c.strip()],
    )
    if json_:
        print_json({"task_ids": ids})
    else:
        console().print(f"Added {len(ids)} production sample(s) of {escape(deployment)}.")


@app.command()
def feedback(
    name: str = typer.Argument(...),
    deployment: str = typer.Option(..., "--deployment", "-d"),
    method: Method = METHOD,
    json_: bool = JSON,
) -> None:
    """Send the aggregated labels of production samples back as feedback (by request id)."""
    from keel import labeling
    from keel.monitoring import record_feedback

    records = labeling.feedback_labels(_context.store(), _pid(), name, method=method)
    if not records:
        console().print("No answered production samples yet: nothing sent.")
        return
    result = record_feedback(
        _context.settings(), deployment, records, on_duplicate="replace", source=f"label:{name}"
    )
    if json_:
        print_json(result)
    else:
        console().print(f"{result.stored} of {result.received} label(s) stored as feedback.")
