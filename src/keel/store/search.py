"""Full-text search over what a team logged: runs, comments, reports, models and datasets.

One row of ``search_docs`` per object holds the text it is found by; SQLite indexes it
with FTS5 (bm25 ranking, ``snippet``), PostgreSQL with a generated ``tsvector`` and a GIN
index (``ts_rank_cd``, ``ts_headline``). What a user types is always text: it is split
into words and each word is quoted, so FTS operators, quotes and SQL in a query are
searched for, never run. All words must match; when no object has them all, any word
does (ranked by how many and how well).

**Keeping the index current (no triggers, no rebuild).** Every repository write that
changes what an object is found by stamps the object's row with the time (``updated_at``
of runs, experiments, registered models, model versions and reports: a run's name, note,
params, tags, status or lifecycle; a model's description, tags or name; a version's
description, card or tags; comments and datasets are written once). Callers refresh
before they search (``keel search``, ``keel.reports.search``, the UI and the server do):
:meth:`SearchRepository.refresh` re-reads whole only the objects stamped since the
project's mark (an indexed range read per kind; the runs of an experiment renamed, deleted
or restored since then too), then drops the documents whose object is gone or
soft-deleted with one anti-join per kind (a deleted run or experiment, a deleted comment,
model, version, dataset or report). So a tag added after a run ended, an edited
description or a deletion is found (or no longer found) by the next search, and a refresh
with nothing new reads no object. :meth:`SearchRepository.rebuild`
(``keel search --reindex``) drops the project's index and indexes everything again: only
needed after rows were written around the repositories. Every method runs its own
transaction; the repository is thread-safe.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import (
    Connection,
    Integer,
    Row,
    and_,
    cast,
    delete,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError

from keel.exceptions import InvalidArgumentError, NotFoundError
from keel.store._area_values import SearchHit
from keel.store._db import Database, now_ms
from keel.store._schema import table
from keel.store._schema_reports import SearchDocRow, SearchMarkRow
from keel.store._search_docs import (
    BATCH,
    COMMENTS,
    DATASETS,
    MODELS,
    REPORTS,
    VERSIONS,
    Doc,
    comment_docs,
    dataset_docs,
    model_docs,
    report_docs,
    run_docs,
)
from keel.store._upsert import upsert

DOCS = table(SearchDocRow)
MARKS = table(SearchMarkRow)

KINDS = ("run", "comment", "report", "model", "dataset")
MAX_QUERY = 500
MAX_WORDS = 32
#: Objects written this long before a refresh began are taken in again (clock skew and
#: transactions that committed late); indexing the same object twice is harmless.
SKEW_MS = 5_000
_WORD = re.compile(r"\w+", re.UNICODE)


def query_words(query: str) -> list[str]:
    """The words of a query (letters and digits); everything else is a separator."""
    if len(query) > MAX_QUERY:
        raise InvalidArgumentError(
            f"a search query holds at most {MAX_QUERY} characters, got {len(query)}"
        )
    return _WORD.findall(query)[:MAX_WORDS]


def check_kinds(kinds: Iterable[str]) -> list[str]:
    out = list(kinds)
    for kind in out:
        if kind not in KINDS:
            raise InvalidArgumentError(f"search kind {kind!r} is not one of {', '.join(KINDS)}")
    return out


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """What a search keeps besides its words: object kinds, one author, objects changed
    since (ms). One definition for both indexes: :meth:`sql` for the keyword index; the
    vector index applies the same three fields to its arrays."""

    kinds: tuple[str, ...] = ()
    author: str | None = None
    since: int | None = None

    @classmethod
    def of(cls, kinds: Iterable[str], author: str | None, since: int | None) -> SearchFilter:
        return cls(tuple(check_kinds(kinds)), author, since)

    def sql(self) -> str:
        """The filter as ``AND`` clauses over ``search_docs d`` (``:author``, ``:since``)."""
        sql = ""
        if self.kinds:
            sql += " AND d.kind IN (" + ", ".join(f"'{k}'" for k in self.kinds) + ")"  # checked
        if self.author:
            sql += " AND d.author = :author"
        if self.since is not None:
            sql += " AND d.updated_at >= :since"
        return sql

    def params(self) -> dict[str, object]:
        return {"author": self.author, "since": self.since}


def _sqlite_sql(words: list[str], any_word: bool, where: SearchFilter) -> tuple[str, str]:
    """The FTS5 ranking query and its ``:q`` (the quoted words). Title words weigh 8x body
    words; snippets are read afterwards for the best rows only (:func:`_fts_snippets`): a
    snippet in the ranking query would be computed for every match."""
    quoted = ['"' + w.replace('"', '""') + '"' for w in words]
    sql = (
        "SELECT d.id, d.kind, d.ref, d.project_id, d.title, d.author, d.updated_at, "
        "-bm25(search_fts, 8.0, 1.0) AS score "
        "FROM search_fts JOIN search_docs d ON d.id = search_fts.rowid "
        "WHERE search_fts MATCH :q AND d.project_id = :pid"
        + where.sql()
        + " ORDER BY score DESC LIMIT :limit"
    )
    return sql, (" OR " if any_word else " ").join(quoted)


def _fts_snippets(conn: Connection, match: str, rows: Sequence[Row]) -> list[str]:
    """The FTS5 snippet (matches in ``**``) of the document of each of ``rows``."""
    if not rows:
        return []
    ids = ",".join(str(int(r.id)) for r in rows)
    found: dict[int, str] = dict(
        conn.execute(
            text(
                "SELECT rowid, snippet(search_fts, 1, '**', '**', '…', 16) FROM search_fts "
                f"WHERE search_fts MATCH :q AND rowid IN ({ids})"
            ),
            {"q": match},
        ).all()
    )
    return [found.get(r.id, "") for r in rows]


def _postgres_sql(words: list[str], any_word: bool, where: SearchFilter) -> tuple[str, str]:
    """The PostgreSQL ranking query (headlines of the best rows as ``snip``) and its ``:q``."""
    if any_word:  # words hold letters and digits only: safe as tsquery lexemes
        tsq, q = "to_tsquery('english', :q)", " | ".join(words)
    else:
        tsq, q = "plainto_tsquery('english', :q)", " ".join(words)
    sql = (
        "WITH q AS (SELECT " + tsq + " AS q), best AS ("
        "SELECT d.kind, d.ref, d.project_id, d.title, d.body, d.author, d.updated_at, "
        "ts_rank_cd(d.tsv, q.q) AS score FROM search_docs d, q "
        "WHERE d.project_id = :pid AND d.tsv @@ q.q"
        + where.sql()
        + " ORDER BY score DESC LIMIT :limit) "
        "SELECT best.*, ts_headline('english', best.body, q.q, "
        "'StartSel=**, StopSel=**, MaxWords=24, MinWords=8, MaxFragments=2, "
        'FragmentDelimiter=" … "\') AS snip FROM best, q ORDER BY score DESC'
    )
    return sql, q


class SearchRepository:
    """The search index of each project, and queries over it."""

    def __init__(self, db: Database, *, skew_ms: int = SKEW_MS) -> None:
        self._db = db
        self._skew_ms = skew_ms

    # -- queries ---------------------------------------------------------------------------
    def find(
        self, project_id: int, words: list[str], where: SearchFilter, limit: int
    ) -> list[SearchHit]:
        """The best ``limit`` objects of the project holding all ``words`` (see
        :func:`query_words`), or when none does, any of them."""
        if not words:
            return []
        if not 1 <= limit <= 1000:
            raise InvalidArgumentError(f"limit must be 1-1000, got {limit}")
        sqlite = self._db.is_sqlite
        for any_word in (False, True):
            if any_word and len(words) == 1:
                break
            sql, q = (_sqlite_sql if sqlite else _postgres_sql)(words, any_word, where)
            params = {"q": q, "pid": project_id, **where.params(), "limit": limit}
            with self._db.read() as conn:
                rows = conn.execute(text(sql), params).all()
                snips = _fts_snippets(conn, q, rows) if sqlite else [r.snip for r in rows]
            if rows:
                return [
                    SearchHit(r.kind, r.ref, r.project_id, r.title, snip, float(r.score),
                              r.author, r.updated_at)
                    for r, snip in zip(rows, snips, strict=True)
                ]  # fmt: skip
        return []

    # -- keeping the index current -----------------------------------------------------------
    def refresh(self, project_id: int) -> int:
        """Index what was created or changed since the last refresh and drop what was
        deleted; how many objects were (re)indexed."""
        started = now_ms()
        with self._db.read() as conn:
            mark = conn.execute(
                select(MARKS.c.mark).where(MARKS.c.project_id == project_id)
            ).scalar()
        since = -1 if mark is None else mark - self._skew_ms
        total = self._index(project_id, since)
        if since >= 0:  # a first index holds live objects only
            self._purge(project_id)
        try:
            with self._db.write() as conn:
                conn.execute(delete(MARKS).where(MARKS.c.project_id == project_id))
                conn.execute(insert(MARKS).values(project_id=project_id, mark=started))
        except IntegrityError as exc:  # the mark's only foreign key is the project
            raise NotFoundError(f"project id {project_id} does not exist") from exc
        return total

    def rebuild(self, project_id: int) -> int:
        """Drop the project's index and index every object again; how many objects."""
        with self._db.write() as conn:
            if self._db.is_sqlite:
                conn.execute(
                    text(
                        "DELETE FROM search_fts WHERE rowid IN "
                        "(SELECT id FROM search_docs WHERE project_id = :pid)"
                    ),
                    {"pid": project_id},
                )
            conn.execute(delete(DOCS).where(DOCS.c.project_id == project_id))
            conn.execute(delete(MARKS).where(MARKS.c.project_id == project_id))
        return self.refresh(project_id)

    def _index(self, project_id: int, since: int) -> int:
        total = 0
        for docs in (
            run_docs(self._db, project_id, since, self._drop),
            comment_docs(self._db, project_id, since),
            model_docs(self._db, project_id, since),
            dataset_docs(self._db, project_id, since),
            report_docs(self._db, project_id, since),
        ):
            batch: list[Doc] = []
            for doc in docs:
                batch.append(doc)
                if len(batch) >= BATCH:
                    total += self._put(project_id, batch)
                    batch = []
            total += self._put(project_id, batch)
        return total

    def _purge(self, project_id: int) -> int:
        """Drop the documents of hard-deleted objects; how many.

        Soft-deleted runs are dropped by the incremental pass (deleting stamps the run or
        its experiment) and runs are never deleted for good but with their project. For
        comments, datasets and reports, two index-only counts tell whether any was deleted;
        only then an anti-join finds which (each probe a primary-key or unique lookup).
        Model documents are few and checked against the live names.
        """
        d = DOCS.c
        alive = {
            "comment": (COMMENTS, COMMENTS.c.id == cast(d.ref, Integer)),
            "dataset": (DATASETS, DATASETS.c.name == d.ref),
            "report": (REPORTS, REPORTS.c.id == cast(d.ref, Integer)),
        }
        stale: list[int] = []
        with self._db.read() as conn:
            for kind, (tbl, same) in alive.items():
                mine = and_(d.project_id == project_id, d.kind == kind)
                docs = conn.execute(select(func.count()).select_from(DOCS).where(mine)).scalar()
                live = conn.execute(
                    select(func.count()).select_from(tbl).where(tbl.c.project_id == project_id)
                ).scalar()
                if not docs or docs <= (live or 0):
                    continue  # every live object is indexed: more documents means deletions
                found = select(tbl.c.id).where(same, tbl.c.project_id == project_id)
                stale += conn.execute(select(d.id).where(mine, ~found.exists())).scalars()
            names = set(
                conn.execute(select(MODELS.c.name).where(MODELS.c.project_id == project_id))
                .scalars()
                .all()
            )
            refs = names | {
                f"{name}/{number}"
                for name, number in conn.execute(
                    select(MODELS.c.name, VERSIONS.c.version)
                    .join(MODELS, MODELS.c.id == VERSIONS.c.model_id)
                    .where(MODELS.c.project_id == project_id)
                )
            }
            stale += [
                doc_id
                for doc_id, ref in conn.execute(
                    select(d.id, d.ref).where(d.project_id == project_id, d.kind == "model")
                )
                if ref not in refs
            ]
        self._delete_docs(stale)
        return len(stale)

    def _drop(self, kind: str, project_id: int, refs: Sequence[str]) -> None:
        """Drop the documents of these objects (deleted since the last refresh)."""
        ids: list[int] = []
        if refs:
            with self._db.read() as conn:
                for start in range(0, len(refs), BATCH):
                    ids += conn.execute(
                        select(DOCS.c.id).where(
                            DOCS.c.project_id == project_id,
                            DOCS.c.kind == kind,
                            DOCS.c.ref.in_(refs[start : start + BATCH]),
                        )
                    ).scalars()
        self._delete_docs(ids)

    def _delete_docs(self, stale: Sequence[int]) -> None:
        for start in range(0, len(stale), BATCH):
            ids = stale[start : start + BATCH]
            with self._db.write() as conn:
                if self._db.is_sqlite:
                    conn.execute(
                        text("DELETE FROM search_fts WHERE rowid = :id"), [{"id": i} for i in ids]
                    )
                conn.execute(delete(DOCS).where(DOCS.c.id.in_(ids)))

    def _put(self, project_id: int, docs: list[Doc]) -> int:
        """Write the index rows of ``docs`` (replacing any of the same kind and ref)."""
        if not docs:
            return 0
        rows = [
            {"project_id": project_id, "kind": d.kind, "ref": d.ref[:255],
             "title": _clean(d.title), "body": _clean(d.body), "author": d.author[:255],
             "updated_at": d.updated_at}
            for d in docs
        ]  # fmt: skip
        with self._db.write() as conn:
            upsert(
                conn,
                DOCS,
                rows,
                keys=("project_id", "kind", "ref"),
                update=("title", "body", "author", "updated_at"),
            )
            if self._db.is_sqlite:  # the FTS5 rows follow their document (rowid = id)
                for kind in {d.kind for d in docs}:
                    refs = [d.ref[:255] for d in docs if d.kind == kind]
                    new = conn.execute(
                        select(DOCS.c.id, DOCS.c.title, DOCS.c.body).where(
                            DOCS.c.project_id == project_id,
                            DOCS.c.kind == kind,
                            DOCS.c.ref.in_(refs),
                        )
                    ).all()
                    conn.execute(
                        text("DELETE FROM search_fts WHERE rowid = :id"),
                        [{"id": r.id} for r in new],
                    )
                    conn.execute(
                        text("INSERT INTO search_fts (rowid, title, body) VALUES (:id, :t, :b)"),
                        [{"id": r.id, "t": r.title, "b": r.body} for r in new],
                    )
        return len(docs)


def _clean(value: str) -> str:
    return value.replace("\x00", "")  # PostgreSQL text cannot hold NUL


__all__ = [
    "KINDS",
    "SearchHit",
    "SearchRepository",
    "check_kinds",
    "query_words",
]
