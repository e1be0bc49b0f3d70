"""Read commands start fast because of what they do NOT import; this guards that without timing.

Each command runs in a fresh interpreter against an existing store and reports ``sys.modules``;
a module on the list below coming back is a start-up regression (see benchmarks/cli_startup.py
for the wall-clock figures).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import keel

PROBE = """
import json, runpy, sys
sys.argv = ["keel", *sys.argv[1:]]
try:
    runpy.run_module("keel.cli", run_name="__main__")
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)))
"""

#: heavy or write-path modules that no read command needs
NEVER = (
    "sqlalchemy",
    "pydantic",
    "pandas",
    "numpy",
    "pyarrow",
    "fsspec",
    "keel.tracking._active",
    "keel.tracking._autolog",
    "keel.tracking._capture",
    "keel.tracking._system",
    "rich._emoji_codes",
)
#: what each command must also leave alone (beyond NEVER)
ALSO: dict[str, tuple[str, ...]] = {
    "runs list": (
        "keel.store.filters",
        "keel.store._dataset_entities",
        "keel.store._registry_entities",
        "hashlib",
    ),
    "experiments list": ("keel.store.runs", "keel.store._registry_entities"),
    "models list": ("keel.store._dataset_entities", "keel.models._package"),
    # no such model: the lookup itself is what must stay driver-level SQL
    "models show churn@champion": ("keel.store._schema", "keel.models._package"),
    "alerts list": ("keel.store._registry_entities",),
    "datasets list": ("keel.store._registry_entities",),
    "datasets show churn@2": ("keel.store._schema", "keel.store._registry_entities"),
    "deploy list": ("keel.store._dataset_entities",),
    "schedule list": ("keel.store._schema",),
    # a project with a double share and no answers yet (its progress, not agreement, is read)
    "label status review": ("keel.store._schema",),
    "label status nosuch": ("keel.store._schema",),
    "projects list": ("keel.store.runs", "keel.store._registry_entities"),
}


def _modules(args: list[str], home: Path) -> set[str]:
    env = {**os.environ, "KEEL_HOME": str(home)}
    env["PYTHONPATH"] = str(Path(keel.__file__).resolve().parents[1])
    for var in ("KEEL_SERVER_URL", "KEEL_DB_URI", "KEEL_ARTIFACTS_URI", "KEEL_PROJECT"):
        env.pop(var, None)
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        env=env,
        cwd=home.parent,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store that exists already (creating one migrates it, with SQLAlchemy and Alembic),
    with a labeling project."""
    home = tmp_path_factory.mktemp("startup") / "home"
    _modules(["experiments", "list"], home)
    _modules(["label", "create", "review", "--labels", "a,b", "--double-share", "0.2"], home)
    return home


@pytest.mark.parametrize("command", sorted(ALSO))
def test_read_commands_import_only_what_they_use(command: str, home: Path) -> None:
    loaded = _modules(command.split(), home)
    heavy = sorted(
        m
        for m in loaded
        for banned in (*NEVER, *ALSO[command])
        if m == banned or m.startswith(banned + ".")
    )
    assert heavy == [], f"keel {command} imports {heavy}: make those imports lazy again"


def test_sweep_show_reads_the_kept_importances_without_optuna(tmp_path: Path) -> None:
    """fANOVA is fitted by the first show of a finished sweep; showing it later imports
    neither Optuna nor scikit-learn (seconds), nor pandas, numpy or SQLAlchemy (its reads
    are driver-level)."""
    import keel as sdk
    from keel.config import Settings
    from keel.store import open_store
    from keel.tracking import TrackingClient
    from keel.tuning import describe_sweep

    home = tmp_path / "home"
    client = TrackingClient(open_store(Settings.for_home(home)), "default")
    space = {"x": {"type": "float", "low": 0, "high": 1}, "n": {"type": "int", "low": 0, "high": 3}}
    sdk.sweep(lambda p: p["x"] ** 2 + p["n"], space, trials=4, seed=0, name="s", client=client)
    assert describe_sweep("s", client=client).importance_method == "fanova"  # fitted, kept
    loaded = _modules(["sweep", "show", "s"], home)
    heavy = sorted(
        m
        for m in loaded
        for banned in ("optuna", "sklearn", "scipy", "keel.tuning._automl", *NEVER)
        if m == banned or m.startswith(banned + ".")
    )
    assert "keel.tuning._sweep_ops" in loaded and heavy == []


def test_command_modules_keep_annotations_evaluated() -> None:
    """typer resolves every parameter annotation; a string one (``from __future__ import
    annotations``) costs a ``compile()`` each, ~80 for ``keel runs``."""
    cli = Path(keel.__file__).parent / "cli"
    owned_elsewhere = {"sweep.py", "automl.py", "roi.py"}
    stringy = [
        p.name
        for p in sorted(cli.glob("*.py"))
        if not p.name.startswith("_")
        and p.name not in owned_elsewhere
        and "from __future__ import annotations" in p.read_text()
    ]
    assert stringy == []


def test_team_mode_client_starts_without_sqlalchemy() -> None:
    """With KEEL_SERVER_URL every command talks to the server through keel.store.remote;
    its wire format names the store's value types, which must not drag in the repositories
    (SQLAlchemy and the schema, ~0.3 s at every command)."""
    code = "import json, sys, keel.store.remote, keel.store.wire\n"
    code += "print(json.dumps(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": str(Path(keel.__file__).resolve().parents[1])}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(out.stdout))
    heavy = sorted(m for m in loaded if m.split(".")[0] in {"sqlalchemy", "pandas", "numpy"})
    assert heavy == [] and "keel.store._schema" not in loaded
