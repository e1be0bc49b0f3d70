"""Fuzz every operation of the OpenAPI document (schemathesis): no input gets a 5xx.

The MLflow client retries any 5xx for minutes, so a client mistake answered with 500
would hang a user's training script; this keeps every generated request a 2xx/4xx.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, settings

from keel.store import Metric, Store

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.checks import not_a_server_error  # noqa: E402


@pytest.fixture
def fuzz_schema(app: FastAPI, server_store: Store) -> Any:
    project = server_store.projects.get_or_create("default")
    exp = server_store.experiments.create(project.id, "seeded")
    run = server_store.runs.create(exp.id, name="seeded")
    server_store.runs.log_metric(run.id, Metric("m", 1.0))
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)


schema = schemathesis.pytest.from_fixture("fuzz_schema")


@schema.parametrize()
@settings(
    max_examples=3,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_gets_a_server_error(case: Any) -> None:
    case.call_and_validate(checks=[not_a_server_error])
