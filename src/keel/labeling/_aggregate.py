"""One label per task from several answers: majority vote and Dawid-Skene, with a
confidence per task, and the tasks whose answers disagree (the review queue).

Dawid-Skene (1979) learns a confusion matrix per annotator by expectation-maximisation and
weighs each answer by how reliable its annotator is; its confidence is the posterior
probability of the chosen label. A small implementation here, because crowd-kit pulls in
transformers and nltk (see the field notes); it is checked against known cases in the tests.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

Triple = tuple[int, str, str]
METHODS = ("majority", "dawid-skene")


@dataclass(frozen=True)
class Aggregated:
    """The label chosen for one task, how sure, and who answered."""

    task_id: int
    label: str
    confidence: float
    answers: int
    annotators: tuple[str, ...]
    agreement: float


def _group(triples: Sequence[Triple]) -> dict[int, dict[str, str]]:
    tasks: dict[int, dict[str, str]] = defaultdict(dict)
    for task_id, annotator, key in triples:
        tasks[task_id][annotator] = key
    return dict(sorted(tasks.items()))


def _share(answers: dict[str, str]) -> float:
    return Counter(answers.values()).most_common(1)[0][1] / len(answers)


def majority_vote(triples: Sequence[Triple]) -> list[Aggregated]:
    """The most common answer per task (ties: the first in sorted order); confidence is its
    share of the answers."""
    out = []
    for task_id, answers in _group(triples).items():
        counts = Counter(answers.values())
        top = max(counts.values())
        label = min(k for k, c in counts.items() if c == top)
        share = top / len(answers)
        out.append(
            Aggregated(task_id, label, round(share, 6), len(answers), tuple(sorted(answers)), share)
        )
    return out


def dawid_skene(triples: Sequence[Triple], *, iterations: int = 50) -> list[Aggregated]:
    """Dawid-Skene EM, started from the majority vote's soft labels."""
    import numpy as np

    tasks = _group(triples)
    if not tasks:
        return []
    labels = sorted({k for answers in tasks.values() for k in answers.values()})
    workers = sorted({a for answers in tasks.values() for a in answers})
    li = {k: i for i, k in enumerate(labels)}
    wi = {w: i for i, w in enumerate(workers)}
    task_ids = list(tasks)
    n_t, n_k, n_w = len(task_ids), len(labels), len(workers)
    # answers[t, w, k] = 1 when worker w gave label k to task t
    answers = np.zeros((n_t, n_w, n_k))
    for t, task_id in enumerate(task_ids):
        for w, key in tasks[task_id].items():
            answers[t, wi[w], li[key]] = 1.0
    post = answers.sum(axis=1)
    post /= post.sum(axis=1, keepdims=True)
    for _ in range(iterations):
        prior = (post.sum(axis=0) + 1e-2) / (n_t + 1e-2 * n_k)
        # confusion[w, true, given], smoothed so an unseen cell is not impossible
        confusion = np.einsum("tk,twg->wkg", post, answers) + 1e-2
        confusion /= confusion.sum(axis=2, keepdims=True)
        log_post = np.log(prior) + np.einsum("twg,wkg->tk", answers, np.log(confusion))
        log_post -= log_post.max(axis=1, keepdims=True)
        new = np.exp(log_post)
        new /= new.sum(axis=1, keepdims=True)
        if np.abs(new - post).max() < 1e-6:
            post = new
            break
        post = new
    out = []
    for t, task_id in enumerate(task_ids):
        best = int(np.argmax(post[t]))
        got = tasks[task_id]
        out.append(
            Aggregated(
                task_id,
                labels[best],
                round(float(post[t, best]), 6),
                len(got),
                tuple(sorted(got)),
                _share(got),
            )
        )
    return out


def aggregate(triples: Sequence[Triple], method: str = "majority") -> list[Aggregated]:
    if method == "majority":
        return majority_vote(triples)
    if method == "dawid-skene":
        return dawid_skene(triples)
    from keel.exceptions import InvalidArgumentError

    raise InvalidArgumentError(f"aggregation method {method!r} is not one of {', '.join(METHODS)}")


def review_queue(aggregated: Sequence[Aggregated], *, below: float = 1.0) -> list[Aggregated]:
    """Tasks whose answers disagree (agreement share below ``below``), least sure first."""
    found = [a for a in aggregated if a.answers >= 2 and a.agreement < below]
    return sorted(found, key=lambda a: (a.agreement, a.confidence, a.task_id))


__all__ = ["METHODS", "Aggregated", "aggregate", "dawid_skene", "majority_vote", "review_queue"]
