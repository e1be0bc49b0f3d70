"""The trust policy a server loads its models under is written down (issue 13): in the
deployment it records and in every prediction log file, so an opt-out is never silent."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest
from serving_helpers import FEATURES

from keel.config import Settings
from keel.serving import build_app, load_spec, spec_for_refs, start_in_thread
from keel.store import open_store


def _predict(url: str) -> None:
    tensors = [{"name": f, "shape": [1], "datatype": "FP64", "data": [0.1]} for f in FEATURES]
    answer = httpx.post(f"{url}/v2/models/churn/infer", json={"inputs": tensors}, timeout=30)
    assert answer.status_code == 200, answer.text


def _trust_in_log(home: Path) -> set[bytes | None]:
    files = list((home / "artifacts" / "predictions").rglob("*.parquet"))
    assert files
    return {(pq.read_schema(f).metadata or {}).get(b"keel.trust") for f in files}


@pytest.mark.parametrize(
    ("declared", "server", "recorded_as", "logged_as"),
    [
        (None, "strict", None, "strict"),  # the default: unset in the spec, logged as strict
        (None, "warn", "warn", "warn"),  # the server's opt-out (KEEL_MODEL_TRUST / --trust)
        ("off", "strict", "off", "off"),  # the deployment's own opt-out
    ],
)
def test_the_policy_in_effect_is_in_the_deployment_and_the_log(
    settings: Settings,
    registered: str,
    declared: str | None,
    server: str,
    recorded_as: str | None,
    logged_as: str,
) -> None:
    settings = replace(settings, model_trust=server)
    store = open_store(settings)
    spec = spec_for_refs([registered], name="recorded")
    if declared is not None:
        spec = load_spec({**spec.to_dict(), "trust": declared})
    handle = start_in_thread(build_app(spec, settings, store=store))
    pid = store.projects.get_or_create("default").id
    try:
        _predict(handle.url)
        recorded = store.deployments.get(pid, "recorded").spec
    finally:
        handle.stop()  # flushes the prediction log
    store.close()
    assert recorded["trust"] == recorded_as
    assert _trust_in_log(settings.home) == {logged_as.encode()}


def test_a_spec_with_an_unknown_policy_is_refused() -> None:
    with pytest.raises(Exception, match="trust"):
        load_spec({"name": "x", "endpoints": [{"name": "e", "versions": [{"model": "m@a"}]}],
                   "trust": "sometimes"})  # fmt: skip
