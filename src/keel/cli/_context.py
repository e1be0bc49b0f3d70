"""What every command needs: settings read once, and the store they point at."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keel.config import Settings
    from keel.store import Project, Store
    from keel.tracking import TrackingClient


def use_project(name: str) -> None:
    """The root ``--project/-P`` option: the project for this command and what it starts.

    Resolved once, here at the edge; it is exported as ``KEEL_PROJECT`` so servers, workers
    and pipelines this command starts work in the same project.
    """
    import os

    from keel.exceptions import InvalidArgumentError

    if not name.strip():
        raise InvalidArgumentError("--project is empty; give a project name")
    os.environ["KEEL_PROJECT"] = name
    settings.cache_clear()
    store.cache_clear()
    client.cache_clear()


#: The ``--trust`` option of every command that loads registry models; unset means the
#: project's setting (``KEEL_MODEL_TRUST``, default strict).
TRUST_CHOICES = ("strict", "warn", "off")


def trust(option: str | None) -> str:
    """The signature policy for this command: ``--trust`` if given, else the setting."""
    if option is None:
        return settings().model_trust
    if option not in TRUST_CHOICES:
        from keel.exceptions import InvalidArgumentError

        raise InvalidArgumentError(f"--trust {option!r} is not one of {', '.join(TRUST_CHOICES)}")
    return option


@cache
def settings() -> Settings:
    from keel.config import Settings

    return Settings.from_env()


@cache
def store() -> Store:
    from keel.store import open_store

    return open_store(settings())


@cache
def client() -> TrackingClient:
    from keel.tracking import TrackingClient

    return TrackingClient(store(), project=settings().project)


def reader() -> TrackingClient:
    """The client of a command that needs its project to exist (see :func:`project`): a
    read, or a change to something already in it (a schedule, a sweep's trial). Looked up
    once for the command."""
    found = client()
    found.existing_project()
    return found


def project(*, create: bool = False) -> Project:
    """The current project. A write (``create``) makes it; a read needs it to exist, so a
    misspelt ``-P`` fails listing the projects instead of leaving an empty one behind."""
    from keel.store.projects import existing_project

    name, projects = settings().project, store().projects
    return projects.get_or_create(name) if create else existing_project(projects, name)
