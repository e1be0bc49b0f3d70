"""Deployments in the store (SQLite and PostgreSQL), the deploy CLI, and export formats."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from serving_helpers import keel_env

from keel.config import Settings
from keel.exceptions import InvalidArgumentError, NotFoundError
from keel.serving import load_spec, parse_model_ref
from keel.serving._deploy import apply_spec, get_spec, history
from keel.serving._export import export
from keel.store import Store, open_store
from keel.store.deployments import DeploymentTarget

SPEC = {
    "name": "churn-api",
    "endpoints": [
        {
            "name": "churn",
            "versions": [
                {"model": "churn@champion", "weight": 90},
                {"model": "churn@challenger", "weight": 10},
                {"model": "churn/3", "shadow": True},
            ],
            "resources": {
                "cpu": 1.5,
                "memory": "512Mi",
                "workers": 2,
                "concurrency": 32,
                "timeout_ms": 2500,
            },
        }
    ],
}


def test_repository_revisions_rollback_and_delete(store: Store) -> None:
    repo = store.deployments
    pid = store.projects.get_or_create("default").id
    t1 = [DeploymentTarget("churn", "churn@champion", "churn", 100.0)]
    dep, changed = repo.apply(pid, "api", {"a": 1}, t1)
    assert changed and dep.revision == 1 and dep.targets == t1
    assert repo.apply(pid, "api", {"a": 1}, t1) == (dep, False)
    t2 = [*t1, DeploymentTarget("churn", "churn/3", "churn", 0.0, shadow=True)]
    dep2, _ = repo.apply(pid, "api", {"a": 2}, t2, note="shadow v3")
    assert dep2.revision == 2 and repo.current_revision(pid, "api") == 2
    back = repo.rollback(pid, "api", 1)
    assert back.revision == 3 and back.spec == {"a": 1} and back.targets == t1
    assert [r.note for r in repo.revisions(pid, "api")] == [
        "",
        "shadow v3",
        "rollback to revision 1",
    ]
    assert [d.name for d in repo.list(pid)] == ["api"]
    assert {(d, r) for d, r, _t in repo.all_targets(pid)} == {("api", 1), ("api", 2), ("api", 3)}
    with pytest.raises(InvalidArgumentError, match="already at revision 3"):
        repo.rollback(pid, "api", 3)
    with pytest.raises(NotFoundError, match="has no revision 9"):
        repo.revision(pid, "api", 9)
    repo.delete(pid, "api")
    assert repo.current_revision(pid, "api") is None and repo.list(pid) == []
    with pytest.raises(NotFoundError, match="keel deploy apply"):
        repo.get(pid, "api")
    revived, changed = repo.apply(pid, "api", {"a": 1}, t1)
    assert changed and revived.revision == 4


def test_deploy_cli_apply_history_rollback_export(
    settings: Settings, registered: str, tmp_path: Path
) -> None:
    spec = {
        "name": "churn-api",
        "endpoints": [
            {"name": "churn", "versions": [{"model": "churn@champion"}], "resources": {"gpu": 1}}
        ],
    }
    path = tmp_path / "deploy.yaml"
    path.write_text(yaml.safe_dump(spec))
    env = keel_env(settings)

    def keel(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "keel.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    first = keel("deploy", "apply", str(path), "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["deployment"]["revision"] == 1
    spec["endpoints"][0]["versions"].append({"model": "churn/1", "shadow": True})
    store = open_store(settings)
    dep, changed = apply_spec(store, "default", spec, note="shadow")
    assert changed and dep.revision == 2
    assert keel("deploy", "rollback", "churn-api", "1").returncode == 0
    assert [h.note for h in history(store, "default", "churn-api")] == [
        "",
        "shadow",
        "rollback to revision 1",
    ]
    assert len(get_spec(store, "default", "churn-api").endpoints[0].versions) == 1
    store.close()
    manifest = keel("deploy", "export", "churn-api", "--format", "kubernetes")
    docs = list(yaml.safe_load_all(manifest.stdout))
    limits = docs[0]["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits == {"nvidia.com/gpu": 1}
    served = keel("serve", "--deployment", "churn-api", "--port", "0")
    assert served.returncode != 0 and "asks for 1 GPU(s)" in served.stderr
    typo = tmp_path / "typo.yaml"
    typo.write_text("name: x\nendpoints:\n  - name: a\n    versions: [{model: nosuch@champion}]\n")
    with pytest.raises(NotFoundError, match="nosuch"):
        apply_spec(open_store(settings), "default", typo)


def test_export_formats_carry_the_declared_resources() -> None:
    spec = load_spec(SPEC)
    deployment, service = yaml.safe_load_all(export(spec, "kubernetes", image="reg/keel:1"))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert deployment["spec"]["replicas"] == 2
    assert container["image"] == "reg/keel:1"
    assert container["args"][:3] == ["serve", "--deployment", "churn-api"]
    assert container["resources"] == {
        "requests": {"cpu": "1500m", "memory": "512Mi"},
        "limits": {"cpu": "1500m", "memory": "512Mi"},
    }
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert service["kind"] == "Service"
    (isvc,) = yaml.safe_load_all(export(spec, "kserve"))
    assert isvc["kind"] == "InferenceService"
    assert isvc["spec"]["predictor"]["containerConcurrency"] == 32
    assert isvc["spec"]["predictor"]["timeout"] == 2
    docker = export(spec, "dockerfile")
    assert "FROM python:3.11-slim" in docker and '"keel", "serve", "-f"' in docker
    with pytest.raises(InvalidArgumentError, match="kubernetes, kserve, dockerfile"):
        export(spec, "helm")


@pytest.mark.parametrize(
    ("text", "name", "version", "alias"),
    [
        ("churn@champion", "churn", None, "champion"),
        ("models:/churn/7", "churn", 7, None),
        ("churn@7", "churn", 7, None),
        ("churn", "churn", None, None),
        ("churn@latest", "churn", None, None),
    ],
)
def test_model_refs(text: str, name: str, version: int | None, alias: str | None) -> None:
    from keel.models import parse_ref

    ref = parse_model_ref(text)
    assert (ref.name, ref.version, ref.alias) == (name, version, alias)
    assert ref.follows == (version is None)
    assert parse_ref(text) == ref  # one grammar: the registry reads it the same way


@pytest.mark.parametrize(
    "bad", ["", "churn/0", "churn@0", "models:/churn/0", "churn@-x", "/3", "ch urn", "churn/x"]
)
def test_bad_model_refs(bad: str) -> None:
    from keel.models import parse_ref

    with pytest.raises(InvalidArgumentError):
        parse_model_ref(bad)
    with pytest.raises(InvalidArgumentError):  # churn/0 passed the registry's parser before
        parse_ref(bad)
