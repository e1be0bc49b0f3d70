"""Settings, read from the environment once and passed down explicitly.

Nothing else in keel reads ``KEEL_*`` variables: code that needs a setting takes a
:class:`Settings` argument.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from keel.exceptions import ConfigError

#: SQLite durability levels keel accepts (``PRAGMA synchronous``).
SQLITE_SYNCHRONOUS = ("full", "normal")


@dataclass(frozen=True)
class Settings:
    """Where keel keeps its metadata and artifacts.

    ``home`` holds the embedded SQLite database, the artifact folder and local caches.
    ``db_uri`` and ``artifacts_uri`` override the embedded defaults (PostgreSQL, an object store).
    ``sqlite_synchronous`` is SQLite's durability level: ``full`` (default) fsyncs every commit,
    so a commit survives a power cut; ``normal`` survives a crash of the process, not of the OS,
    and makes single small writes a little faster.
    ``db_connect_timeout_s`` bounds connecting to PostgreSQL, ``db_statement_timeout_s`` each
    statement on it (0 turns either off); the client gives up on a database that does not
    answer at all a few seconds after the statement timeout. On SQLite the statement timeout
    is how long a statement waits for another writer's lock ("database is locked" after it).
    """

    home: Path
    db_uri: str
    artifacts_uri: str
    project: str = "default"
    server_url: str | None = None
    token: str | None = None
    sqlite_synchronous: str = "full"
    db_connect_timeout_s: float = 10.0
    db_statement_timeout_s: float = 30.0
    #: signature policy for served and loaded registry models (strict | warn | off)
    model_trust: str = "strict"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``KEEL_*`` variables, defaulting to ``./.keel``."""
        env = os.environ if environ is None else environ
        home = Path(env.get("KEEL_HOME") or ".keel").expanduser().absolute()
        return cls.for_home(
            home,
            db_uri=env.get("KEEL_DB_URI") or None,
            artifacts_uri=env.get("KEEL_ARTIFACTS_URI") or None,
            project=env.get("KEEL_PROJECT") or "default",
            server_url=env.get("KEEL_SERVER_URL") or None,
            token=env.get("KEEL_TOKEN") or None,
            sqlite_synchronous=env.get("KEEL_SQLITE_SYNCHRONOUS") or "full",
            db_connect_timeout_s=_seconds(env, "KEEL_DB_CONNECT_TIMEOUT", 10.0),
            db_statement_timeout_s=_seconds(env, "KEEL_DB_STATEMENT_TIMEOUT", 30.0),
            model_trust=env.get("KEEL_MODEL_TRUST") or "strict",
        )

    @classmethod
    def for_home(
        cls,
        home: str | os.PathLike[str],
        *,
        db_uri: str | None = None,
        artifacts_uri: str | None = None,
        project: str = "default",
        server_url: str | None = None,
        token: str | None = None,
        sqlite_synchronous: str = "full",
        db_connect_timeout_s: float = 10.0,
        db_statement_timeout_s: float = 30.0,
        model_trust: str = "strict",
    ) -> Settings:
        """Settings for an embedded store under ``home`` (used by tests and the quickstart)."""
        home = Path(home).expanduser().absolute()
        if project.strip() == "":
            raise ConfigError("KEEL_PROJECT is empty; set it to a project name or unset it")
        sync = sqlite_synchronous.strip().lower()
        if sync not in SQLITE_SYNCHRONOUS:
            raise ConfigError(
                f"KEEL_SQLITE_SYNCHRONOUS {sqlite_synchronous!r} is not one of "
                f"{', '.join(SQLITE_SYNCHRONOUS)}; use full (durable) or normal (faster)"
            )
        if model_trust not in ("strict", "warn", "off"):
            raise ConfigError(f"KEEL_MODEL_TRUST {model_trust!r} is not one of strict, warn, off")
        return cls(
            home=home,
            db_uri=db_uri or f"sqlite:///{home / 'keel.db'}",
            artifacts_uri=artifacts_uri or str(home / "artifacts"),
            project=project,
            server_url=server_url,
            token=token,
            sqlite_synchronous=sync,
            db_connect_timeout_s=db_connect_timeout_s,
            db_statement_timeout_s=db_statement_timeout_s,
            model_trust=model_trust,
        )

    @property
    def cache_dir(self) -> Path:
        """Machine-local caches (file hash state); never shared between machines."""
        return self.home / "cache"

    def with_project(self, project: str) -> Settings:
        return replace(self, project=project)


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    """A duration in seconds from ``env[name]`` (0 turns the limit off)."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise ConfigError(f"{name} {raw!r} is not a number of seconds; use e.g. 10 (0 for none)")
    return value


__all__ = ["Settings"]
