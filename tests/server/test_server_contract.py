"""The repository contract against the remote backend (and SQLite/PostgreSQL alongside).

The run and experiment contract of ``tests/store/test_runs_contract.py`` is loaded as is
and run here with ``store`` bound to the remote backend; the tests below add artifacts,
blobs, datasets and the tracking SDK, run against all three backends.
"""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

import pytest

from keel.store import (
    AlertRepository,
    ArtifactRepository,
    BlobStore,
    DatasetRepository,
    DeploymentRepository,
    ExperimentRepository,
    MonitorRepository,
    PipelineRunRepository,
    ProjectRepository,
    RegistryRepository,
    RunRepository,
    ScheduleRepository,
    StepCacheRepository,
    Store,
)
from keel.store.remote import RemoteBlobStore
from keel.store.remote._ops import (
    RemoteAlertRepository,
    RemoteDeploymentRepository,
    RemoteMonitorRepository,
)
from keel.store.remote._pipelines import (
    RemotePipelineRunRepository,
    RemoteScheduleRepository,
    RemoteStepCacheRepository,
)
from keel.store.remote._registry import RemoteRegistryRepository
from keel.store.remote._repos import (
    RemoteArtifactRepository,
    RemoteDatasetRepository,
    RemoteExperimentRepository,
    RemoteProjectRepository,
    RemoteRunRepository,
)

_path = Path(__file__).parents[1] / "store" / "test_runs_contract.py"
_spec = importlib.util.spec_from_file_location("keel_runs_contract_for_remote", _path)
assert _spec is not None and _spec.loader is not None
_contract = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_contract)
globals().update(
    {f"test_remote_{k[5:]}": v for k, v in vars(_contract).items() if k.startswith("test_")}
)
exp_id = _contract.exp_id


@pytest.fixture
def store(remote_store: Store) -> Store:
    """The imported run contract runs here against the remote backend only."""
    return remote_store


PAIRS = [
    (ProjectRepository, RemoteProjectRepository),
    (ExperimentRepository, RemoteExperimentRepository),
    (RunRepository, RemoteRunRepository),
    (ArtifactRepository, RemoteArtifactRepository),
    (DatasetRepository, RemoteDatasetRepository),
    (RegistryRepository, RemoteRegistryRepository),
    (DeploymentRepository, RemoteDeploymentRepository),
    (MonitorRepository, RemoteMonitorRepository),
    (AlertRepository, RemoteAlertRepository),
    (PipelineRunRepository, RemotePipelineRunRepository),
    (StepCacheRepository, RemoteStepCacheRepository),
    (ScheduleRepository, RemoteScheduleRepository),
    (BlobStore, RemoteBlobStore),
]


@pytest.mark.parametrize(("sql", "remote"), PAIRS, ids=[p[0].__name__ for p in PAIRS])
def test_remote_overrides_every_public_method(sql: type, remote: type) -> None:
    public = {n for n, f in inspect.getmembers(sql, inspect.isfunction) if not n.startswith("_")}
    missing = sorted(n for n in public if n not in vars(remote))
    assert missing == [], f"{remote.__name__} falls through to SQL for {missing}"
    for name in public:
        assert (
            inspect.signature(getattr(sql, name)).parameters.keys()
            == inspect.signature(getattr(remote, name)).parameters.keys()
        ), name
