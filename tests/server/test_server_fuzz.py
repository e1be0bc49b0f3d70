"""Fuzz every operation of the OpenAPI document (schemathesis): no input gets a 5xx.

The MLflow client retries any 5xx for minutes, so a client mistake answered with 500
would hang a user's training script; this keeps every generated request a 2xx/4xx.

schemathesis is driven through its Python API (schema -> operations -> Hypothesis strategy)
rather than its pytest plugin: the plugin reaches into pytest internals that pytest 9.2 removed
(``Function._nodeid``), while this API is the documented, stable surface.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings

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


def _fuzz(operation: Any) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=3, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    def check(case: Any) -> None:
        case.call_and_validate(checks=[not_a_server_error])

    check()


def test_no_request_gets_a_server_error(fuzz_schema: Any) -> None:
    operations = [result.ok() for result in fuzz_schema.get_all_operations()]
    assert len(operations) > 100, "the OpenAPI document lost its operations"
    failures: list[str] = []
    for operation in operations:
        try:
            _fuzz(operation)
        except Exception as exc:  # every operation is fuzzed; all failures are reported together
            failures.append(f"{operation.label}: {str(exc).strip().splitlines()[0][:300]}")
    assert not failures, f"{len(failures)} of {len(operations)} operations:\n" + "\n".join(failures)
