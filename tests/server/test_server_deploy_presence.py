"""The deployment repository records serving processes (ad hoc or applied) and their
liveness the same way over SQLite, PostgreSQL and the server."""

from __future__ import annotations

import time

import pytest

from keel.exceptions import ConflictError
from keel.store import Store
from keel.store.deployments import DeploymentTarget

TARGETS = [DeploymentTarget("churn", "churn@champion", "churn", 100.0)]


def test_register_heartbeat_stop_and_apply_over_an_adhoc_deployment(store: Store) -> None:
    repo = store.deployments
    pid = store.projects.get_or_create("default").id
    dep, changed = repo.register(pid, "default", {"a": 1}, TARGETS, note="ad hoc: keel serve")
    assert changed and dep.adhoc and dep.status == "adhoc" and dep.revision == 1
    assert dep.last_seen == dep.updated_at
    same, changed = repo.register(pid, "default", {"a": 1}, TARGETS)
    assert not changed and same.revision == 1
    moved, changed = repo.register(pid, "default", {"a": 2}, TARGETS)
    assert changed and moved.revision == 2 and moved.adhoc
    repo.stop(pid, "default")
    stopped = repo.get(pid, "default")
    assert stopped.status == "stopped" and stopped.adhoc
    assert [d.name for d in repo.list(pid)] == ["default"]
    assert not repo.heartbeat(pid, "default")  # a stopped server does not come back by itself
    applied, changed = repo.apply(pid, "default", {"a": 2}, TARGETS)
    assert changed and applied.revision == 3 and not applied.adhoc and applied.last_seen is None
    time.sleep(0.005)  # the next heartbeat lands in a later millisecond than the apply
    assert repo.heartbeat(pid, "default")
    seen = repo.get(pid, "default")
    assert seen.last_seen is not None and seen.last_seen > (seen.applied_at or 0)
    with pytest.raises(ConflictError, match=r"'default' is applied \(revision 3\) with another"):
        repo.register(pid, "default", {"a": 9}, TARGETS)
    kept, changed = repo.register(pid, "default", {"a": 2}, TARGETS)
    assert not changed and kept.status == "active" and kept.revision == 3
    repo.delete(pid, "default")
    assert not repo.heartbeat(pid, "default")
    back, changed = repo.register(pid, "default", {"a": 2}, TARGETS)
    assert back.status == "adhoc" and back.revision == 3
