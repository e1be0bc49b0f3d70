"""MLflow's own REST tests against ``keel server``: prints passed/failed by group.

    python benchmarks/compat/run_mlflow_tests.py            # all three files
    python benchmarks/compat/run_mlflow_tests.py -k log_model --show-errors

Extracts MLflow's ``tests/`` (``../shared/peers/mlflow-tests-fa35c29.tar.xz``, the 3.12.0
release cut; ``--tests-archive`` or ``KEEL_MLFLOW_TESTS`` to point elsewhere) into a
temporary folder, installs ``mlflow==3.12.0`` and what its tests import into
``benchmarks/.venv-mlflow-compat`` (once), and runs ``tests/tracking/test_rest_tracking.py``,
``test_model_registry.py`` and ``test_mlflow_artifacts.py`` with ``keel_pytest_plugin``,
which points only their server fixtures at one ``keel server`` started from this
interpreter (a fresh keel project per fixture call). See README.md beside this file.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import _peers  # noqa: E402
from expectations import KNOWN_FAILURES  # noqa: E402

PACKAGES = [
    "mlflow==3.12.0",
    "pytest==9.0.2",
    "pytest-timeout",
    "pytest-asyncio",
    "psutil",
    "scikit-learn",
]
FILES = [
    "tests/tracking/test_rest_tracking.py",
    "tests/tracking/test_model_registry.py",
    "tests/tracking/test_mlflow_artifacts.py",
]
DEFAULT_ARCHIVE = ROOT.parent.parent / "shared" / "peers" / "mlflow-tests-fa35c29.tar.xz"


def _archive(arg: str | None) -> Path:
    for candidate in (
        arg,
        os.environ.get("KEEL_MLFLOW_TESTS"),
        str(DEFAULT_ARCHIVE),
        str(ROOT.parent / "shared" / "peers" / DEFAULT_ARCHIVE.name),
    ):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise SystemExit(
        f"MLflow's tests archive not found (looked for {DEFAULT_ARCHIVE}); "
        "give --tests-archive or KEEL_MLFLOW_TESTS"
    )


def _keel_pythonpath() -> str:
    import keel

    return str(Path(keel.__file__).resolve().parent.parent)


def run(archive: Path, pytest_args: list[str]) -> dict[str, Any]:
    py = _peers.peer_python("mlflow-compat", PACKAGES)
    _peers.compile_keel()
    with tempfile.TemporaryDirectory(prefix="keel-mlflow-compat-") as tmp_name:
        tmp = Path(tmp_name)
        with tarfile.open(archive) as tar:
            tar.extractall(tmp / "mlflow", filter="data")
        (tmp / "keel-home").mkdir()
        report = tmp / "report.json"
        env = _peers.peer_env(
            KEEL_COMPAT_SERVER=json.dumps([sys.executable, "-m", "keel.cli", "server"]),
            KEEL_COMPAT_HOME=str(tmp / "keel-home"),
            KEEL_COMPAT_PYTHONPATH=_keel_pythonpath(),
            KEEL_COMPAT_REPORT=str(report),
            PYTHONPATH=f"{HERE}{os.pathsep}{tmp / 'mlflow'}",
        )
        env.pop("MLFLOW_TRACKING_URI", None)
        cmd = [
            str(py),
            "-m",
            "pytest",
            *FILES,
            "-p",
            "keel_pytest_plugin",
            "-q",
            "-p",
            "no:cacheprovider",
            "--timeout=300",
            "-o",
            "addopts=",
            "--tb=short",
            "-W",
            "ignore::DeprecationWarning",
            *pytest_args,
        ]
        log = tmp / "pytest.log"
        with open(log, "w") as out:  # pytest's progress dots go to stderr as they come
            proc = subprocess.Popen(
                cmd,
                cwd=tmp / "mlflow",
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            assert proc.stdout is not None
            for line in proc.stdout:
                out.write(line)
                if not line.startswith((" ", "\t")) and len(line) < 120:
                    sys.stderr.write(line)
            proc.wait()
        if not report.exists():
            sys.stderr.write(log.read_text()[-6000:])
            raise SystemExit(f"pytest ended with {proc.returncode} and wrote no report")
        data: dict[str, Any] = json.loads(report.read_text())
        return data


def group_of(nodeid: str, ui_private: set[str]) -> str:
    file = nodeid.split("::")[0].rsplit("/", 1)[-1]
    if nodeid in ui_private:
        return f"{file} (MLflow UI's own endpoints)"
    return file


def test_name(nodeid: str) -> str:
    return nodeid.split("::")[-1].split("[")[0]


def summarize(data: dict[str, Any], show_errors: bool) -> None:
    by_group: dict[str, Counter[str]] = defaultdict(Counter)
    causes: Counter[str] = Counter()
    ui_private = set(data["ui_private"])
    for nodeid, entry in sorted(data["tests"].items()):
        group = group_of(nodeid, ui_private)
        known = KNOWN_FAILURES.get(test_name(nodeid))
        if entry["outcome"] in ("xfailed", "xpassed", "skipped"):
            by_group[group][f"{entry['outcome']} (as in MLflow's own run)"] += 1
            continue
        if entry["outcome"] == "passed":
            by_group[group]["passed"] += 1
            if known:
                by_group[group]["passed (listed as known failure: update the list)"] += 1
        elif known:
            by_group[group]["failed on purpose"] += 1
            causes[f"[on purpose] {known}"] += 1
        else:
            by_group[group]["failed"] += 1
            first = entry["error"].strip().splitlines()[0] if entry["error"].strip() else "?"
            causes[re.sub(r"\s+", " ", first)[:160]] += 1
            if show_errors:
                print(f"FAILED {nodeid}\n    {entry['error'][:1500]}\n")
    print("MLflow 3.12.0 REST tests against keel server\n")
    for group, counts in sorted(by_group.items()):
        total = counts["passed"] + counts["failed"] + counts["failed on purpose"]
        print(
            f"{group:<62} {counts['passed']:4d}/{total:<4d} passed  "
            f"{counts['failed']:4d} failed  {counts['failed on purpose']:3d} failed on purpose"
        )
        for extra in (k for k in counts if "(" in k):
            print(f"    {counts[extra]} {extra}")
    print("\nfailures by cause:")
    for cause, n in causes.most_common():
        print(f"  {n:4d}  {cause}")
    print("\nnot run:")
    for reason, ids in sorted(data["out_of_scope"].items()):
        print(f"  {len(ids):4d}  out of scope, {reason}")
    print(
        f"  {len(data['not_a_server_test']):4d}  test MLflow's server in-process "
        "(its handlers or stores, no server fixture)"
    )
    print(
        "  (tests parametrized over MLflow's file and sqlalchemy backends run once: "
        "keel has one backend)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests-archive", help="MLflow's tests .tar.xz")
    parser.add_argument("--show-errors", action="store_true", help="print each failure")
    parser.add_argument("--json", action="store_true", help="print the raw outcomes as JSON")
    parser.add_argument("-k", help="pytest -k expression (a subset)")
    args = parser.parse_args()
    extra = ["-k", args.k] if args.k else []
    data = run(_archive(args.tests_archive), extra)
    if args.json:
        print(json.dumps(data, indent=1))
        return
    summarize(data, args.show_errors)


if __name__ == "__main__":
    main()
