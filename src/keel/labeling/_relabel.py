"""The re-label check (VR_6): a sample of already-labelled tasks goes back to the queue as
blind copies, and the answers to those copies are compared with the original labels.

Each run of :func:`relabel_check` (``keel label relabel``, run on a schedule: cron, or a
keel pipeline schedule) first scores the rounds sent before — per round, the share of
answers to copies that equal the original task's majority label — then raises an alert
through the alerts machinery when the newest round with enough answers falls below the
floor (resolved once a later round is back above), and finally sends a new round. Copies
are tasks whose ``source_ref`` is ``relabel:<round>:<task id>``; they carry no request id
(so they never become feedback) and the labels export leaves them out.
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from keel.exceptions import InvalidArgumentError
from keel.labeling._client import (
    RELABEL,
    alert_or_resolve,
    config_of,
    iter_annotations,
    iter_tasks,
)
from keel.labeling._config import answer_key
from keel.store.labeling import NewTask

if TYPE_CHECKING:
    from keel.store import Store


@dataclass(frozen=True)
class RelabelRound:
    """One round of copies: when it was sent, how many, how many answered, and the share
    of answers that agree with the original labels (None before any answer)."""

    round: int
    sent: int
    answered: int
    agreement: float | None


@dataclass(frozen=True)
class RelabelCheck:
    rounds: list[RelabelRound]
    floor: float
    ok: bool
    event: str
    alert_id: int | None
    sent: list[int] = field(default_factory=list)


def copy_of(source_ref: str) -> tuple[int, int] | None:
    """``(round, original task id)`` of a re-label copy, else None."""
    if not source_ref.startswith(RELABEL):
        return None
    round_, _, task = source_ref[len(RELABEL) :].partition(":")
    return (int(round_), int(task)) if round_.isdigit() and task.isdigit() else None


def _rounds(
    store: Store, project_id: int, name: str
) -> tuple[list[RelabelRound], set[int], list[int]]:
    """The scored rounds, the originals already copied, and the answered originals."""
    config = config_of(store, project_id, name)
    copies: dict[int, tuple[int, int]] = {}
    originals: list[int] = []
    for task in iter_tasks(store, project_id, name):
        found = copy_of(task.source_ref)
        if found is None:
            originals.append(task.id)
        else:
            copies[task.id] = found
    answers: dict[int, list[str]] = defaultdict(list)
    for ann in iter_annotations(store, project_id, name):
        answers[ann.task_id].append(answer_key(config, ann.result))
    sent: Counter[int] = Counter(r for r, _ in copies.values())
    same: dict[int, list[bool]] = defaultdict(list)
    for copy_id, (round_, original) in copies.items():
        if answers.get(original) and answers.get(copy_id):
            label = Counter(sorted(answers[original])).most_common(1)[0][0]
            same[round_] += [a == label for a in answers[copy_id]]
    rounds = [
        RelabelRound(
            r, sent[r], len(same[r]), round(sum(same[r]) / len(same[r]), 6) if same[r] else None
        )
        for r in sorted(sent)
    ]
    answered = [t for t in originals if answers.get(t)]
    return rounds, {o for _, o in copies.values()}, answered


def _alert(
    store: Store, project_id: int, name: str, judged: RelabelRound | None, floor: float
) -> tuple[bool, str, int | None]:
    from keel.store.alerts import NewAlert

    low = judged is not None and judged.agreement is not None and judged.agreement < floor
    raised = None
    if judged is not None and judged.agreement is not None and low:
        raised = NewAlert(
            kind="labeling",
            severity="warning",
            dedup_key=f"labeling:{name}:relabel",
            title=f"re-labels of {name!r} agree with the original labels "
            f"{judged.agreement:.0%} of the time (< {floor:.0%})",
            message="Labels drift from the instructions: review the guidelines and the "
            "disputed tasks (`keel label status`).",
            evidence={"round": judged.round, "answered": judged.answered,
                      "agreement": judged.agreement, "floor": floor},
        )  # fmt: skip
    key = f"labeling:{name}:relabel"
    event, alert_id = alert_or_resolve(store, project_id, key, raised, by="keel label relabel")
    return not low, event, alert_id


def relabel_check(
    store: Store,
    project_id: int,
    name: str,
    *,
    n: int = 20,
    floor: float = 0.8,
    min_answers: int = 10,
    seed: int | None = None,
) -> RelabelCheck:
    """Score the earlier rounds, alert when the newest judged one is below ``floor`` (share
    of re-label answers equal to the original label, judged with ``min_answers`` answers or
    more), then send ``n`` answered tasks not copied before as a new round (``n=0``: none)."""
    if n < 0 or not 0 <= floor <= 1 or min_answers < 1:
        raise InvalidArgumentError(
            f"n={n} must be >= 0, the floor {floor:g} within 0-1, min_answers {min_answers} >= 1"
        )
    rounds, copied, answered = _rounds(store, project_id, name)
    judged = next((r for r in reversed(rounds) if r.answered >= min_answers), None)
    ok, event, alert_id = _alert(store, project_id, name, judged, floor)
    fresh = [t for t in answered if t not in copied]
    picked = sorted(random.Random(seed).sample(fresh, min(n, len(fresh))))
    sent: list[int] = []
    if picked:
        round_ = max([int(time.time() * 1000)] + [r.round + 1 for r in rounds])
        copies = [
            NewTask(store.labeling.get_task(project_id, name, t).data, f"{RELABEL}{round_}:{t}")
            for t in picked
        ]
        sent = store.labeling.add_tasks(project_id, name, copies)
        rounds.append(RelabelRound(round_, len(sent), 0, None))
    return RelabelCheck(rounds, floor, ok, event, alert_id, sent)


__all__ = ["RELABEL", "RelabelCheck", "RelabelRound", "copy_of", "relabel_check"]
