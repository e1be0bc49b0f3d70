"""``keel models`` and ``keel keys`` as a user runs them (a real ``keel`` process)."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

import keel
from keel.models import Keyring, log_model


def keel_cli(home: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KEEL_HOME": str(home), "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-m", "keel.cli", *args], capture_output=True, text=True, env=env
    )
    assert proc.returncode == code, proc.stdout + proc.stderr
    return proc


@pytest.fixture
def seeded(keel_home: Path, pipeline: Pipeline, cancer: tuple[pd.DataFrame, pd.Series]) -> Path:
    X, _ = cancer
    keel.init(home=keel_home)
    Keyring(keel_home / "keys").generate("ci")
    for auc in (0.82, 0.93):
        with keel.start_run(experiment="cli", capture_env=False) as run:
            run.log_metric("auc", auc)
            log_model(
                pipeline,
                "model",
                input_example=X.head(5),
                registered_model_name="cancer",
                onnx=False,
            )
    return keel_home


def test_list_show_history_promote_download(seeded: Path, tmp_path: Path) -> None:
    models = json.loads(keel_cli(seeded, "models", "list", "--json").stdout)
    assert [m["name"] for m in models] == ["cancer"] and models[0]["latest_version"] == 2
    found = json.loads(
        keel_cli(
            seeded,
            "models",
            "list",
            "--task",
            "classification",
            "--min-metric",
            "auc=0.9",
            "--json",
        ).stdout
    )
    assert [(v["name"], v["version"]) for v in found] == [("cancer", 2)]
    shown = json.loads(keel_cli(seeded, "models", "show", "cancer@1", "--json").stdout)
    assert shown["metrics"] == {"auc": 0.82} and shown["signer"]
    keel_cli(seeded, "models", "promote", "cancer@2", "champion")
    assert "champion" in keel_cli(seeded, "models", "show", "cancer@champion").stdout
    chart = tmp_path / "history.png"
    hist = keel_cli(seeded, "models", "history", "cancer", "-m", "auc", "--chart", str(chart))
    assert "0.93" in hist.stdout and chart.read_bytes().startswith(b"\x89PNG")
    out = json.loads(
        keel_cli(
            seeded,
            "models",
            "download",
            "cancer@champion",
            "--dest",
            str(tmp_path),
            "--archive",
            "--json",
        ).stdout
    )
    assert Path(out["path"]).name == "cancer-2.keel.tar"
    verified = keel_cli(seeded, "models", "verify", out["path"], "--trust", "strict")
    assert "signed by ci" in verified.stdout


def test_rename_and_delete(seeded: Path) -> None:
    keel_cli(seeded, "models", "promote", "cancer@2", "champion")
    renamed = json.loads(keel_cli(seeded, "models", "rename", "cancer", "tumour", "--json").stdout)
    assert (renamed["name"], renamed["aliases"]) == ("tumour", {"champion": 2})
    assert "has no version" not in keel_cli(seeded, "models", "show", "tumour@champion").stdout
    gone = keel_cli(seeded, "models", "show", "cancer@1", code=3)
    assert "does not exist" in gone.stderr
    clash = keel_cli(seeded, "models", "rename", "tumour", "../x", code=2)
    assert "must start with a letter or digit" in clash.stderr

    env = {**os.environ, "KEEL_HOME": str(seeded), "COLUMNS": "200"}
    asked = subprocess.run(
        [sys.executable, "-m", "keel.cli", "models", "delete", "tumour"],
        input="n\n",
        capture_output=True,
        text=True,
        env=env,
    )
    assert asked.returncode != 0 and "Aborted" in asked.stderr
    assert "Delete tumour and its 2 version(s)?" in asked.stdout
    assert [m["name"] for m in json.loads(keel_cli(seeded, "models", "list", "--json").stdout)] == [
        "tumour"
    ]
    keel_cli(seeded, "models", "delete", "tumour", "--yes")
    assert json.loads(keel_cli(seeded, "models", "list", "--json").stdout) == []


def test_clear_errors_for_bad_input(seeded: Path) -> None:
    missing = keel_cli(seeded, "models", "promote", "cancer@7", "champion", code=3)
    assert "has no version 7" in missing.stderr
    bad = keel_cli(seeded, "models", "list", "--filter", "metrics.auc >", code=2)
    assert "ends early" in bad.stderr
    bad_metric = keel_cli(seeded, "models", "list", "--min-metric", "auc", code=2)
    assert "KEY=VALUE" in bad_metric.stderr


def test_keys_and_import_with_a_card(
    keel_home: Path, tmp_path: Path, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    import skops.io as sio
    from sklearn.tree import DecisionTreeClassifier

    keel_cli(keel_home, "keys", "generate", "--name", "alice")
    pem = keel_cli(keel_home, "keys", "export").stdout
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    other = tmp_path / "bob-home"
    (tmp_path / "alice.pub").write_text(pem)
    keel_cli(other, "keys", "trust", str(tmp_path / "alice.pub"), "--name", "alice")
    assert json.loads(keel_cli(other, "keys", "list", "--json").stdout)[0]["name"] == "alice"

    X, y = cancer
    sio.dump(DecisionTreeClassifier(max_depth=3).fit(X, y), tmp_path / "tree.skops")
    imported = json.loads(
        keel_cli(
            keel_home, "models", "import", str(tmp_path / "tree.skops"), "--name", "tree",
            "--task", "classification", "--metric", "auc=0.91", "--intended-use", "demo",
            "--limitations", "tiny tree", "--json",
        ).stdout
    )  # fmt: skip
    assert imported["source"] == "imported" and imported["card"]["intended_use"] == "demo"
    assert imported["signer"]
    listed = json.loads(
        keel_cli(keel_home, "models", "list", "--min-metric", "auc=0.9", "--json").stdout
    )
    assert [v["name"] for v in listed] == ["tree"]


def test_scan_command_flags_a_payload(keel_home: Path, tmp_path: Path) -> None:
    target = tmp_path / "pwned"

    class Payload:
        def __reduce__(self) -> tuple[object, ...]:
            return (os.system, (f"touch {target}",))

    (tmp_path / "weights.txt").write_bytes(pickle.dumps(Payload()))
    (tmp_path / "ok.pkl").write_bytes(pickle.dumps({"w": 1}))
    out = keel_cli(
        keel_home,
        "models",
        "scan",
        str(tmp_path / "weights.txt"),
        str(tmp_path / "ok.pkl"),
        "--json",
        code=1,
    )
    verdicts = {Path(r["file"]).name: r["safe"] for r in json.loads(out.stdout)}
    assert verdicts == {"weights.txt": False, "ok.pkl": True}
    assert not target.exists()


def test_an_author_signs_a_file_and_import_names_them_as_the_author(
    tmp_path: Path, pipeline: Pipeline
) -> None:
    import skops.io as sio

    author_home, importer_home = tmp_path / "alice", tmp_path / "bob"
    src = tmp_path / "churn.skops"
    sio.dump(pipeline, src)
    keel_cli(author_home, "keys", "generate", "--name", "alice")
    signed = json.loads(keel_cli(author_home, "keys", "sign", str(src), "--json").stdout)
    assert signed["signature"] == str(tmp_path / "churn.skops.sig") and signed["signer"] == "alice"
    alice = signed["key_id"]

    # bob does not trust alice yet: the signature verifies but `keys verify` says untrusted
    keel_cli(importer_home, "keys", "generate", "--name", "bob")
    untrusted = keel_cli(importer_home, "keys", "verify", str(src), code=1)
    assert alice in untrusted.stderr and "does not trust" in untrusted.stderr
    out = keel_cli(importer_home, "models", "import", str(src), "--name", "churn").stdout
    assert f"author: alice (key {alice}, not trusted here)" in out
    version = json.loads(keel_cli(importer_home, "models", "show", "churn@1", "--json").stdout)
    prov = version["lineage"]["provenance"]
    assert prov["author"] == {"key_id": alice, "name": "alice", "trusted": False}
    assert prov["imported_by_name"] == "bob" and version["signer"] == prov["imported_by"] != alice
    shown = keel_cli(importer_home, "models", "show", "churn@1").stdout
    assert "author" in shown and alice in shown

    pub = tmp_path / "alice.pub"
    pub.write_text(keel_cli(author_home, "keys", "export").stdout)
    keel_cli(importer_home, "keys", "trust", str(pub))
    ok = json.loads(keel_cli(importer_home, "keys", "verify", str(src), "--json").stdout)
    assert (ok["key_id"], ok["signer"], ok["trusted"]) == (alice, "alice", True)

    # one changed byte: the author's signature no longer matches and nothing is imported
    src.write_bytes(src.read_bytes() + b"\0")
    refused = keel_cli(importer_home, "models", "import", str(src), "--name", "evil", code=1)
    assert "churn.skops.sig does not match churn.skops" in refused.stderr
    assert "Traceback" not in refused.stderr
    keel_cli(importer_home, "keys", "verify", str(src), code=1)
    names = json.loads(keel_cli(importer_home, "models", "list", "--json").stdout)
    assert [m["name"] for m in names] == ["churn"]
