"""SQL sources: the result of a query against any SQLAlchemy URL, as an Arrow table (CR_5)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from keel.exceptions import InvalidArgumentError

if TYPE_CHECKING:
    import pyarrow as pa

_SECRET_KEYS = ("password", "passwd", "secret", "token", "key")
_BATCH_ROWS = 50_000


@dataclass(frozen=True)
class SqlQuery:
    """A query to run against a database, e.g. production data::

        SqlQuery("postgresql+psycopg://reader:pw@db/prod", "SELECT * FROM orders WHERE day = :d",
                 params={"d": "2026-01-01"})

    Only :attr:`safe_url` (password hidden) is ever stored or printed.
    """

    url: str
    query: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.query, str) or not self.query.strip():
            raise InvalidArgumentError(f"SQL query must be a non-empty string, got {self.query!r}")
        self.safe_url  # noqa: B018 -- fail early on a URL that does not parse

    @property
    def safe_url(self) -> str:
        """The URL with the password (and secret-looking query options) hidden."""
        from sqlalchemy.engine import make_url

        try:
            url = make_url(self.url)
        except Exception as exc:
            raise InvalidArgumentError(
                f"{_redact(self.url)!r} is not a SQLAlchemy database URL; use for example "
                "postgresql+psycopg://user@host/db or sqlite:///path/to/file.db"
            ) from exc
        hidden = {k: "REDACTED" for k in url.query if any(s in k.lower() for s in _SECRET_KEYS)}
        return url.update_query_dict(hidden).render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"SqlQuery(url={self.safe_url!r}, query={self.query!r})"

    def describe(self) -> dict[str, Any]:
        """What a dataset version records as its source (no secrets)."""
        return {
            "type": "sql",
            "url": self.safe_url,
            "query": self.query,
            "params": dict(self.params),
        }


def read_sql(source: SqlQuery) -> pa.Table:
    """Run the query and return its rows as an Arrow table, fetched in batches."""
    import pyarrow as pa
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    try:
        engine = create_engine(source.url)
    except Exception as exc:
        raise InvalidArgumentError(
            f"cannot use database URL {source.safe_url!r}: {exc}; check the driver name and "
            "that its package is installed"
        ) from exc
    try:
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True).execute(
                text(source.query), dict(source.params)
            )
            columns = list(result.keys())
            batches = [_batch(columns, rows) for rows in result.partitions(_BATCH_ROWS)]
    except SQLAlchemyError as exc:
        detail = getattr(exc, "orig", None) or exc
        raise InvalidArgumentError(
            f"query {source.query!r} failed on {source.safe_url}: {detail}. Check the query "
            "and that the database is reachable"
        ) from exc
    finally:
        engine.dispose()
    if not batches:
        return pa.table({c: pa.array([], pa.null()) for c in columns})
    return pa.concat_tables(
        [pa.Table.from_batches([b]) for b in batches], promote_options="permissive"
    )


def _batch(columns: list[str], rows: Sequence[Any]) -> pa.RecordBatch:
    import pyarrow as pa

    arrays = []
    for i, name in enumerate(columns):
        values = [row[i] for row in rows]
        try:
            arrays.append(pa.array(values))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise InvalidArgumentError(
                f"column {name!r} of the query result mixes value types ({exc}); CAST it to "
                "one type in the query"
            ) from exc
    return pa.RecordBatch.from_arrays(arrays, names=columns)


def _redact(url: str) -> str:
    """Best-effort password removal for a URL SQLAlchemy cannot parse."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user, colon, _password = creds.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{host}"
