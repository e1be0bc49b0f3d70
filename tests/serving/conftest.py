"""Fixtures for the serving tests: a real model, an in-memory source, a live server, Redis."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from serving_helpers import Constant, Proba

from keel.config import Settings
from keel.serving import InMemorySource, ServerHandle, build_app, load_spec, start_in_thread

FEATURES = [f"f{i}" for i in range(20)]
REQUIRE_SERVICES = os.environ.get("KEEL_TEST_REQUIRE_SERVICES") == "1"


@pytest.fixture(scope="session")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.normal(size=(400, 20)), columns=FEATURES)


@pytest.fixture(scope="session")
def fitted(frame: pd.DataFrame) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = (frame.f0 + frame.f1 > 0).astype(int)
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(frame, y)


@pytest.fixture
def source(frame: pd.DataFrame, fitted: Any) -> InMemorySource:
    """churn/1 (the real model, champion), churn/2 and churn/3 (constants 2.0 and 3.0)."""
    src = InMemorySource()
    schema = frame.head()
    src.add("churn", 1, Proba(fitted), schema=schema, aliases=("champion",))
    src.add("churn", 2, Constant(2.0), schema=schema, aliases=("challenger",))
    src.add("churn", 3, Constant(3.0), schema=schema)
    return src


@pytest.fixture
def serve(settings: Settings) -> Iterator[Callable[..., ServerHandle]]:
    """Start a spec (dict or YAML text) against a source; stopped after the test."""
    handles: list[ServerHandle] = []

    def start(spec: Any, source: Any, **kwargs: Any) -> ServerHandle:
        app = build_app(load_spec(spec), settings, source=source, **kwargs)
        handle = start_in_thread(app)
        handles.append(handle)
        return handle

    yield start
    for h in handles:
        h.stop()


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("KEEL_TEST_REDIS_URL")
    if not url:
        if REQUIRE_SERVICES:
            pytest.fail("KEEL_TEST_REQUIRE_SERVICES=1 but KEEL_TEST_REDIS_URL is not set")
        pytest.skip("Redis tests need KEEL_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/15)")
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        if REQUIRE_SERVICES:
            pytest.fail(f"Redis at {url} does not answer: {exc}")
        pytest.skip(f"Redis at {url} does not answer: {exc}")
    client.close()
    return url


@pytest.fixture(scope="session")
def registered_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A keel home with the real scaler + logistic regression registered as churn/1 and
    promoted to champion: built once per session (packaging and the ONNX twin take seconds)."""
    import keel
    import keel.models
    from keel.store import open_store
    from keel.tracking import start_run

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(400, 20)), columns=FEATURES)
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    fitted = make_pipeline(StandardScaler(), LogisticRegression()).fit(
        frame, (frame.f0 + frame.f1 > 0).astype(int)
    )
    home = tmp_path_factory.mktemp("registered") / "keel-home"
    settings = Settings.for_home(home)
    keel.init(settings=settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with start_run("train", experiment="serving-tests"):
            keel.log_model(
                fitted, "model", input_example=frame.head(5), registered_model_name="churn"
            )
    store = open_store(settings)
    keel.models.Registry(store, "default").promote("churn@1", "champion")
    store.close()
    return home


@pytest.fixture
def registered(settings: Settings, registered_home: Path) -> str:
    """This test's keel home holds churn/1 (champion): a copy of the session's template."""
    import shutil

    shutil.copytree(registered_home, settings.home, dirs_exist_ok=True)
    return "churn@champion"
