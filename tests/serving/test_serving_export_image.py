"""Exports carry the packages and their pinned requirements; `keel serve` checks the
environment against the packages' manifests (warns, or refuses under --strict-env)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import warnings
from importlib.metadata import version
from pathlib import Path

import httpx
import pandas as pd
import pytest
import yaml
from serving_helpers import keel_env, split_body, wait_for

from keel.config import Settings
from keel.exceptions import InvalidArgumentError
from keel.serving import spec_for_refs
from keel.serving._envcheck import merged_requirements
from keel.serving._export import export_deployment
from keel.store import open_store


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _keel(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keel.cli", *args],
        env={**env, "COLUMNS": "400"},
        capture_output=True,
        text=True,
        timeout=180,
    )


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v2/health/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _stop(proc: subprocess.Popen[str]) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    return out or ""


def test_dockerfile_installs_the_pins_and_copies_the_package(
    settings: Settings, registered: str, tmp_path: Path
) -> None:
    store = open_store(settings)
    spec = spec_for_refs([registered], name="churn-api")
    sklearn = f"scikit-learn=={version('scikit-learn')}"
    try:
        done = export_deployment(
            store, "default", spec, "dockerfile", keel="keel==9.9", output=tmp_path / "ctx"
        )
    finally:
        store.close()
    docker = (tmp_path / "ctx" / "Dockerfile").read_text()
    install = next(line for line in docker.splitlines() if line.startswith("RUN pip install"))
    assert '"keel==9.9"' in install and f'"{sklearn}"' in install
    assert f'"skops=={version("skops")}"' in install
    assert "COPY models /srv/models" in docker and "# the packages: churn/1" in docker
    assert '"--packages", "/srv/models", "--strict-env"' in docker
    assert done.text == docker
    index = json.loads((tmp_path / "ctx" / "models" / "index.json").read_text())
    assert index["models"]["churn"] == {"versions": ["1"], "aliases": {"champion": "1"}}
    assert (tmp_path / "ctx" / "models" / "churn" / "1" / "keel-model.yaml").is_file()
    assert yaml.safe_load((tmp_path / "ctx" / "deploy.yaml").read_text())["name"] == "churn-api"


def test_kubernetes_and_kserve_run_the_packaged_image(
    settings: Settings, registered: str, tmp_path: Path
) -> None:
    env = keel_env(settings)
    spec = tmp_path / "deploy.yaml"
    spec.write_text(yaml.safe_dump(spec_for_refs([registered], name="churn-api").to_dict()))
    out = tmp_path / "k8s"
    export = ["deploy", "export", "-f", str(spec), "--format"]
    made = _keel(env, *export, "kubernetes", "-o", str(out))
    assert made.returncode == 0, made.stderr
    written = {p.name for p in out.iterdir()}
    assert written == {"Dockerfile", "deploy.yaml", "models", "kubernetes.yaml"}
    deployment, _service = yaml.safe_load_all((out / "kubernetes.yaml").read_text())
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][:6] == [
        "serve", "-f", "/srv/deploy.yaml", "--packages", "/srv/models", "--strict-env"
    ]  # fmt: skip
    assert container["envFrom"] == [{"secretRef": {"name": "keel-store", "optional": True}}]
    printed = _keel(env, *export, "kserve")
    assert printed.returncode == 0, printed.stderr
    (isvc,) = yaml.safe_load_all(printed.stdout)
    assert "--packages" in isvc["spec"]["predictor"]["containers"][0]["args"]
    docker = _keel(env, *export, "dockerfile")
    assert f"scikit-learn=={version('scikit-learn')}" in docker.stdout
    again = _keel(env, *export, "kubernetes", "-o", str(out))
    assert again.returncode != 0 and "is not empty" in again.stderr


def test_the_exported_context_serves_in_a_fresh_home(
    settings: Settings, registered: str, frame: pd.DataFrame, tmp_path: Path
) -> None:
    """What the image's ENTRYPOINT runs, against an empty keel home: no registry at hand."""
    store = open_store(settings)
    try:
        spec = spec_for_refs([registered], name="churn-api")
        export_deployment(store, "default", spec, "dockerfile", output=tmp_path / "ctx")
    finally:
        store.close()
    env = {**keel_env(settings), "KEEL_HOME": str(tmp_path / "fresh-home")}
    port = _free_port()
    ctx = tmp_path / "ctx"
    args = ["serve", "-f", str(ctx / "deploy.yaml"), "--packages", str(ctx / "models")]
    proc = subprocess.Popen(
        [sys.executable, "-m", "keel.cli", *args, "--strict-env", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _ready(url) or proc.poll() is not None, timeout_s=90, every_s=0.2)
        assert proc.poll() is None, _stop(proc)
        answer = httpx.post(f"{url}/invocations", json=split_body(frame.head(3)), timeout=30)
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["predictions"]) == 3
    finally:
        out = _stop(proc)
    assert "warning:" not in out, out


def test_a_packages_folder_without_an_index_is_one_clear_line(
    settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "empty").mkdir()
    spec = tmp_path / "deploy.yaml"
    spec.write_text(yaml.safe_dump(spec_for_refs(["churn@champion"]).to_dict()))
    bad = _keel(keel_env(settings), "serve", "-f", str(spec), "--packages", str(tmp_path / "empty"))
    assert bad.returncode != 0
    assert "index.json does not exist" in bad.stderr and "keel deploy export" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_two_packages_pinning_one_framework_differently_cannot_share_an_image() -> None:
    merged = merged_requirements([("a/1", ["numpy==2.0", "scipy==1.1"]), ("b/2", ["numpy==2.0"])])
    assert merged == ["numpy==2.0", "scipy==1.1"]
    with pytest.raises(InvalidArgumentError, match=r"a/1 needs numpy==2.0 but b/2 needs numpy"):
        merged_requirements([("a/1", ["numpy==2.0"]), ("b/2", ["numpy==1.9"])])


@pytest.fixture
def legacy(settings: Settings, registered: str, frame: pd.DataFrame, fitted: object) -> str:
    """legacy/1: the same model packaged with pins this environment does not have."""
    import keel
    from keel.tracking import start_run

    keel.init(settings=settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with start_run("legacy", experiment="serving-tests"):
            keel.log_model(
                fitted,
                "model",
                input_example=frame.head(5),
                registered_model_name="legacy",
                onnx=False,
                requirements=["scikit-learn==1.0.2", "numpy==1.21.0", f"scipy=={version('scipy')}"],
            )
    return "legacy/1"


def test_keel_serve_warns_per_mismatch_and_refuses_under_strict_env(
    settings: Settings, legacy: str, tmp_path: Path
) -> None:
    env = keel_env(settings)
    strict = _keel(env, "serve", legacy, "--strict-env", "--port", str(_free_port()))
    assert strict.returncode != 0
    error = [line for line in strict.stderr.splitlines() if "--strict-env" in line]
    assert len(error) == 1, strict.stderr
    assert "legacy/1 was packaged with numpy==1.21.0" in error[0] and "(and 1 more)" in error[0]
    assert "Traceback" not in strict.stderr
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "keel.cli", "serve", legacy, "--port", str(port)],
        env={**env, "COLUMNS": "80"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(
            lambda: _ready(f"http://127.0.0.1:{port}") or proc.poll() is not None,
            timeout_s=90,
            every_s=0.2,
        )
        assert proc.poll() is None
    finally:
        out = _stop(proc)
    warned = [line for line in out.splitlines() if line.startswith("warning:")]
    sklearn = version("scikit-learn")
    assert warned == [
        f"warning: legacy/1 was packaged with numpy==1.21.0 but numpy {version('numpy')} is "
        "installed",
        f"warning: legacy/1 was packaged with scikit-learn==1.0.2 but scikit-learn {sklearn} is "
        "installed",
    ], out
