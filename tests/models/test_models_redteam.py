"""The red-team corpus: every payload is refused and its canary never appears.

One test per class of attack in the issue: gadgets through allowlisted names, denylist
gaps, parser disagreements, archives, bombs, package tampering and unsigned code.
"""

from __future__ import annotations

import gzip
import io
import json
import sys
import tarfile
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml
from sklearn.pipeline import Pipeline

sys.path.insert(0, str(Path(__file__).parent))
import redteam

from keel.exceptions import (
    InvalidArgumentError,
    KeelError,
    TamperedModelError,
    UnsafeModelError,
    UntrustedModelError,
)
from keel.models import (
    MANIFEST_FILE,
    Keyring,
    PythonModel,
    load,
    load_pickle_file,
    pack_archive,
    save,
    scan_bytes,
    scan_file,
    unpack_archive,
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[redteam.Case], Path]:
    root = tmp_path_factory.mktemp("redteam")
    canary = root / "CANARY"
    return redteam.build(root / "files", canary), canary


def test_every_payload_in_the_corpus_is_refused_and_never_runs(
    corpus: tuple[list[redteam.Case], Path],
) -> None:
    cases, canary = corpus
    assert len(cases) > 30
    for case in cases:
        result = scan_file(case.path)
        assert not result.safe, (case.name, result)
        assert result.findings[0].file.startswith(case.path.name)
        with pytest.raises(UnsafeModelError, match=case.path.name):
            load_pickle_file(case.path, trust=True)
        assert not canary.exists(), case.name


@pytest.mark.parametrize(
    "attack",
    ["allowlisted-class gadget", "file-reading constructor", "memory bomb", "denylist gap",
     "parser disagreement", "compressed stream", "archive", "pickle in npy"],
)  # fmt: skip
def test_each_attack_class_is_in_the_corpus_and_refused(
    corpus: tuple[list[redteam.Case], Path], attack: str
) -> None:
    cases, canary = corpus
    chosen = [c for c in cases if c.attack == attack]
    assert chosen
    assert all(not scan_file(c.path).safe for c in chosen)
    assert not canary.exists()


def test_skops_constructor_naming_a_pandas_class_is_refused_on_import(
    tmp_path: Path, pipeline: Pipeline
) -> None:
    """The skops schema names a pandas.core class that evaluates text: refused by name."""
    import skops.io as sio

    from keel.models._flavor_base import LoadOptions
    from keel.models._flavor_sklearn import SklearnFlavor

    good = tmp_path / "good.skops"
    sio.dump(pipeline, good)
    bad = tmp_path / "model.skops"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "schema.json":
                text = (
                    data.decode()
                    .replace(
                        '"__module__": "sklearn.preprocessing._data"',
                        '"__module__": "pandas.core.computation.expr"',
                    )
                    .replace('"__class__": "StandardScaler"', '"__class__": "Expr"')
                )
                assert "pandas.core" in text
                data = text.encode()
            dst.writestr(info, data)
    with pytest.raises(UnsafeModelError, match=r"pandas\.core\.computation\.expr\.Expr"):
        SklearnFlavor().load(tmp_path, {"file": bad.name}, LoadOptions())


def test_skops_schema_bomb_is_refused_before_skops_reads_it(tmp_path: Path) -> None:
    from keel.models._flavor_sklearn import MAX_SCHEMA_BYTES, check_skops_budget

    path = tmp_path / "bomb.skops"
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf,
        zf.open("schema.json", "w", force_zip64=True) as f,
    ):
        for _ in range((MAX_SCHEMA_BYTES >> 20) + 1):
            f.write(b" " * (1 << 20))
    with pytest.raises(UnsafeModelError, match=r"schema\.json declares"):
        check_skops_budget(path, path.name)


def test_decompression_bombs_are_refused_naming_the_file(tmp_path: Path) -> None:
    bomb = gzip.compress(b"\0" * (16 << 20), compresslevel=1)
    result = scan_bytes(bomb, label="weights.gz", budget=4 << 20)
    assert not result.safe and "inflates past" in result.findings[0].issue
    assert result.findings[0].file == "weights.gz"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("data.pkl", b"\0" * (16 << 20))
    zipped = scan_bytes(buf.getvalue(), label="model.pt", budget=4 << 20)
    assert not zipped.safe and "model.pt" in zipped.findings[0].issue


@pytest.fixture
def package(tmp_path: Path, pipeline: Pipeline, cancer: tuple[pd.DataFrame, pd.Series]) -> Path:
    folder = tmp_path / "pkg"
    save(pipeline, folder, input_example=cancer[0].head(5), onnx=False, sign=False)
    return folder


def test_a_sparse_tar_is_refused_before_it_writes(tmp_path: Path, package: Path) -> None:
    archive = tmp_path / "pkg.keel.tar"
    pack_archive(package, archive)
    sparse = tmp_path / "sparse.keel.tar"
    with tarfile.open(archive) as src, tarfile.open(sparse, "w", format=tarfile.GNU_FORMAT) as dst:
        for member in src:
            dst.addfile(member, src.extractfile(member))
        info = tarfile.TarInfo("artifacts/huge.bin")
        info.type = tarfile.GNUTYPE_SPARSE
        info.size = 0
        dst.addfile(info)
    with pytest.raises(TamperedModelError, match=r"huge\.bin"):
        unpack_archive(sparse, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_yaml_alias_bomb_in_the_manifest_is_refused(package: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 12)]
    manifest = package / MANIFEST_FILE
    manifest.write_text(manifest.read_text() + "\n".join(["bomb:"] + ["  " + x for x in lines]))
    with pytest.raises(TamperedModelError, match="aliases"):
        load(package, trust="off")


def test_a_flavor_path_outside_the_manifest_is_refused(package: Path, tmp_path: Path) -> None:
    manifest = package / MANIFEST_FILE
    for target in ("../../etc/passwd", "requirements-extra.txt"):
        doc = yaml.safe_load(manifest.read_text())
        doc["flavors"]["sklearn"]["file"] = target
        manifest.write_text(yaml.safe_dump(doc))
        with pytest.raises(TamperedModelError, match="sklearn flavor's file"):
            load(package, trust="off")


def test_a_lightgbm_model_with_trailing_nuls_is_refused(tmp_path: Path) -> None:
    from keel.models._flavor_boost import check_lightgbm_text

    with pytest.raises(UnsafeModelError, match="NUL"):
        check_lightgbm_text(b"tree\nversion=v4\n" + b"\0" * 4096, tmp_path / "model.txt")


def test_an_onnx_file_with_external_data_gets_a_clean_refusal(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    weight = helper.make_tensor("w", TensorProto.FLOAT, [1], [1.0])
    weight.data_location = TensorProto.EXTERNAL
    del weight.float_data[:]
    entry = weight.external_data.add()
    entry.key, entry.value = "location", "../../../../etc/passwd"
    node = helper.make_node("Add", ["x", "w"], ["y"])
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])], [weight],
    )  # fmt: skip
    path = tmp_path / "model.onnx"
    onnx.save(helper.make_model(graph), str(path))
    from keel.models._import import read_model

    with pytest.raises(UnsafeModelError, match="external data"):
        read_model(path, "onnx", trust_pickle=False, trusted_types=())


class Canary(PythonModel):
    """Code that would leave a mark if it ever ran."""

    def load_context(self, artifacts: object) -> None:
        Path(str(Path.cwd() / "CANARY-CODE")).write_text("ran")

    def predict(self, frame: pd.DataFrame) -> object:
        return frame.iloc[:, 0]


def test_unsigned_or_resigned_package_code_never_runs_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    example = pd.DataFrame({"x": [1.0, 2.0]})
    unsigned = tmp_path / "unsigned"
    save(Canary(), unsigned, input_example=example, sign=False)
    assert not (tmp_path / "CANARY-CODE").exists()
    with pytest.raises(UntrustedModelError):
        load(unsigned)
    mallory = Keyring(tmp_path / "mallory")
    mallory.generate("mallory")
    resigned = tmp_path / "resigned"
    save(Canary(), resigned, input_example=example, keyring=mallory, sign=True)
    mine = Keyring(tmp_path / "mine")
    mine.generate("me")
    with pytest.raises(UntrustedModelError, match="does not trust"):
        load(resigned, keyring=mine)
    assert not (tmp_path / "CANARY-CODE").exists()


def test_loading_python_code_writes_no_bytecode_into_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    mine = Keyring(tmp_path / "mine")
    mine.generate("me")
    folder = tmp_path / "pkg"
    save(Canary(), folder, input_example=pd.DataFrame({"x": [1.0]}), keyring=mine, sign=True)
    load(folder, keyring=mine)
    assert not list(folder.rglob("__pycache__"))
    load(folder, keyring=mine)  # a second load still verifies: nothing was added


def test_errors_are_keel_errors_with_one_line(corpus: tuple[list[redteam.Case], Path]) -> None:
    cases, _ = corpus
    for case in cases[:5]:
        with pytest.raises(KeelError) as info:
            scan_file(case.path).raise_if_unsafe()
        assert "\n" not in str(info.value)
    assert json.dumps([c.name for c in cases])
    assert InvalidArgumentError is not None
