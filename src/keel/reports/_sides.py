"""One side of a comparison: the runs behind a git ref, a run id, a model version or an experiment.

A side is written as ``--base``/``--head``. An explicit prefix picks the kind (``run:``,
``model:``, ``experiment:``, ``git:``); without one keel tries, in order: a model reference
(``churn@champion``, ``models:/churn/3``), a run id or its unique prefix, a git ref in the
checkout at ``repo`` (runs tagged ``keel.git.commit`` with that commit, which tracking
records when a run starts in a git checkout), a commit prefix of 7+ hex digits, and an
experiment name.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from keel.exceptions import InvalidArgumentError, NotFoundError
from keel.store import Run
from keel.tracking import TrackingClient

COMMIT_TAG = "keel.git.commit"
KINDS = ("run", "model", "git", "experiment")
_HEX = re.compile(r"^[0-9a-f]{7,40}$")
#: Runs one side may hold (the newest first); enough for a noise band, bounded for speed.
MAX_RUNS = 500


@dataclass(frozen=True, slots=True)
class Side:
    """What ``spec`` resolved to: its runs, and the commit and model version when known."""

    spec: str
    kind: str
    label: str
    runs: list[Run]
    commit: str | None = None
    model: str | None = None

    @property
    def run_ids(self) -> list[str]:
        return [r.id for r in self.runs]


def resolve_side(
    spec: str, client: TrackingClient, *, repo: Path | None = None, role: str = "side"
) -> Side:
    """The runs ``spec`` names; a one-line :class:`NotFoundError` when it names none."""
    text = spec.strip()
    if not text:
        raise InvalidArgumentError(
            f"--{role} is empty; give a git ref, run id, model@alias or experiment"
        )
    kind, sep, rest = text.partition(":")
    if sep and kind in (*KINDS, "exp", "commit") and not text.startswith("models:/"):
        kind = {"exp": "experiment", "commit": "git"}.get(kind, kind)
        return _finish(_BY_KIND[kind](rest.strip(), client, repo), role, client)
    if text.startswith("models:/") or "@" in text:
        return _finish(_model(text, client, repo), role, client)
    for attempt in (_run, _git, _experiment):
        try:
            side = attempt(text, client, repo)
        except (NotFoundError, InvalidArgumentError) as exc:
            if attempt is _git and rev_parse(text, repo) is not None:
                raise NotFoundError(f"--{role}: {exc}") from exc  # a ref with no runs
            continue
        return _finish(side, role, client)
    raise NotFoundError(
        f"--{role} {text!r} names no run id, model version, git ref or experiment of project "
        f"{client.project_name!r}; prefix it (run:, model:, git:, experiment:) to say which"
    )


def _finish(side: Side, role: str, client: TrackingClient) -> Side:
    if not side.runs:
        raise NotFoundError(
            f"--{role} {side.spec!r} ({side.label}) has no runs in project "
            f"{client.project_name!r}; nothing to compare"
        )
    commits = {r.tags.get(COMMIT_TAG) for r in side.runs}
    commit = side.commit or (commits.pop() if len(commits) == 1 else None)
    return Side(side.spec, side.kind, side.label, side.runs, commit, side.model)


def _run(text: str, client: TrackingClient, repo: Path | None) -> Side:
    run = client.get_run(client.resolve_run_id(text))  # a unique id prefix, as `keel runs show`
    return Side(text, "run", f"run {run.name or run.id}", [run])


def _model(text: str, client: TrackingClient, repo: Path | None) -> Side:
    from keel.models import Registry

    version = Registry(client.store, client.project_name).resolve(text)
    label = f"model {version.name}/{version.version}"
    if version.run_id is None:
        raise NotFoundError(f"{label} ({text!r}) was registered without a run; nothing to compare")
    return Side(text, "model", label, [client.get_run(version.run_id)], model=label[6:])


def _git(text: str, client: TrackingClient, repo: Path | None) -> Side:
    commit = rev_parse(text, repo)
    if commit is None:
        if not _HEX.match(text.lower()):
            raise NotFoundError(f"{text!r} is not a git ref here")
        runs = _tagged(client, f"tags.`{COMMIT_TAG}` LIKE '{text.lower()}%'")
        return Side(text, "git", f"commit {text[:12]}", runs)
    runs = _tagged(client, f"tags.`{COMMIT_TAG}` = '{commit}'")
    if not runs:
        raise NotFoundError(
            f"git ref {text!r} is commit {commit[:12]}, but no run of project "
            f"{client.project_name!r} was tagged {COMMIT_TAG}={commit[:12]}… (tracking records "
            "it when a run starts inside a git checkout)"
        )
    return Side(text, "git", f"{text} ({commit[:12]})", runs, commit=commit)


def _experiment(text: str, client: TrackingClient, repo: Path | None) -> Side:
    exp = client.experiment(text)
    page = client.search_runs(
        experiments=[exp.id], order_by="attributes.start_time DESC", max_results=MAX_RUNS
    )
    return Side(text, "experiment", f"experiment {exp.name}", list(page.runs))


def _tagged(client: TrackingClient, filter_string: str) -> list[Run]:
    page = client.search_runs(
        filter_string, order_by="attributes.start_time DESC", max_results=MAX_RUNS
    )
    return list(page.runs)


_BY_KIND = {"run": _run, "model": _model, "git": _git, "experiment": _experiment}


def rev_parse(ref: str, repo: Path | None) -> str | None:
    """The full commit ``ref`` names in the checkout at ``repo``; None without git or ref."""
    if ref.startswith("-"):
        return None  # never let a side be read as a git option
    out = git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    return out.strip() if out else None


def git(repo: Path | None, *args: str) -> str | None:
    """Run git in ``repo``; its stdout, or None when git is missing or the command fails."""
    out = git_bytes(repo, *args)
    return None if out is None else out.decode("utf-8", errors="replace")


def git_bytes(repo: Path | None, *args: str) -> bytes | None:
    """:func:`git`'s stdout as bytes (file contents)."""
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=repo or Path.cwd(),
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


__all__ = ["COMMIT_TAG", "Side", "git", "git_bytes", "resolve_side", "rev_parse"]
