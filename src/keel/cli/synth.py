"""``keel synth``: fit a synthetic-data model on a dataset version, sample a gated version.

``fit`` stores the model (a Gaussian copula, or CTGAN with the ``keel[ctgan]`` extra) as a
one-file dataset version (``customers-copula@1``); ``sample``
writes a new dataset version whose source names the model and the real version and holds
the fidelity, utility and privacy report. The privacy gate is on: a failing sample is not
written unless ``--allow-risky "<reason>"`` is given (the reason is recorded).
"""

from typing import Any

import typer

from keel.cli import _context
from keel.cli._options import JSON
from keel.cli._render import console, escape, print_json, print_table

app = typer.Typer(
    help="Fit synthetic-data models; sample private, gated dataset versions.",
    no_args_is_help=True,
)


def _client(*, create: bool = False) -> Any:
    """The datasets of the current project: a fit may make it (it can learn from a file),
    which the client does when it stores the model, after the method and the data are
    checked; a sample reads its model, a version in the project, so the project must exist."""
    from keel.data import DatasetClient

    project = _context.settings().project if create else _context.project()
    return DatasetClient(_context.store(), project)


@app.command()
def fit(
    ref: str = typer.Argument(..., help='Dataset to learn from ("customers@3").'),
    method: str = typer.Option(
        "copula", "--method", "-m", help="Synthesiser: copula, or ctgan (extra keel[ctgan])."
    ),
    name: str = typer.Option(None, "--name", help="Model name (default <dataset>-<method>)."),
    epochs: int = typer.Option(300, "--epochs", help="CTGAN training passes over the data."),
    holdout: float = typer.Option(
        0.2, "--holdout", help="Share of rows kept out of the fit to test utility and privacy."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed of the holdout split."),
    json_: bool = JSON,
) -> None:
    """Fit a synthesiser on a dataset version and store it as a model version."""
    from keel.data import synth_fit

    model = synth_fit(
        ref, method=method, datasets=_client(create=True), name=name, holdout=holdout, seed=seed,
        epochs=epochs,
    )  # fmt: skip
    m = model.model
    if json_:
        print_json(
            {
                "model": model.ref,
                "method": m.method,
                "rows_fit": m.rows_fit,
                "columns": len(m.columns),
                "notes": m.notes,
            }
        )
        return
    console().print(
        f"Fitted [bold]{escape(str(model.ref))}[/bold] ({m.method}) on {m.rows_fit:,} rows x "
        f"{len(m.columns)} columns; sample with `keel synth sample {model.ref} -n 1000`"
    )
    for note in m.notes:
        console().print(f"[dim]{escape(note)}[/dim]")


@app.command()
def sample(
    model: str = typer.Argument(..., help='Model version ("customers-copula@1").'),
    n: int = typer.Option(1000, "-n", "--rows", help="Rows to generate."),
    name: str = typer.Option(None, "--name", help="Dataset to write (default <src>-synthetic)."),
    target: str = typer.Option(None, "--target", "-t", help="Column to test utility on."),
    allow_risky: str = typer.Option(
        None, "--allow-risky", help="Write even if the privacy gate fails; give the reason."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed of the sample."),
    json_: bool = JSON,
) -> None:
    """Sample rows, report fidelity, utility and privacy, and write them if the gate passes."""
    from keel.data import synth_sample

    result = synth_sample(
        model, n, datasets=_client(), name=name, target=target, allow_risky=allow_risky, seed=seed
    )
    version, report = result.version, result.report
    if json_:
        print_json({"version": version, "report": report})
        return
    ref = version.ref if version is not None else "(not saved)"
    gate = report["gate"]
    verdict = "passed" if gate["passed"] else f"FAILED, kept because: {report['allow_risky']}"
    console().print(f"Wrote [bold]{escape(ref)}[/bold]: {n:,} rows; privacy gate {escape(verdict)}")
    fid, priv, util = report["fidelity"], report["privacy"], report.get("utility") or {}
    rows = [
        ("fidelity", "marginal score (1 - mean KS/TV)", fid["marginal_score"]),
        ("fidelity", "correlation difference", fid["correlation_difference"]),
        ("fidelity", "discriminator AUC (0.5 best)", fid["discriminator_auc"]),
        ("privacy", "membership-inference AUC", priv["membership_auc"]),
        ("privacy", "DCR median / holdout ratio", f"{priv['dcr_median']} / {priv['dcr_ratio']}"),
        ("privacy", "exact copies", priv["copy_rate"]),
        ("privacy", "NNDR median", priv["nndr_median"]),
    ]
    if util.get("metric"):
        rows.append(
            (
                "utility",
                f"{util['metric']}: real-trained vs synthetic-trained",
                f"{util['train_real']} vs {util['train_synthetic']}",
            )
        )
    print_table("Report", ["area", "measure", "value"], rows)
