"""Reproduce a model version (PG_2): same code, same uncommitted changes, same data, same params.

1. ``git worktree add`` of the recorded commit in a temporary folder (the user's checkout is
   never touched);
2. apply the recorded ``_keel/uncommitted.diff`` (of the run, or of the pipeline run whose
   step logged the model);
3. re-run there, against the same keel store: a model made in a pipeline step re-runs
   ``keel pipeline run <target> --no-cache`` with the recorded pipeline parameters; a script
   re-runs with its recorded arguments (``python fit.py 0.1``). The recorded params and
   dataset versions are in ``KEEL_REPRODUCE_PARAMS`` / ``KEEL_REPRODUCE_DATASETS`` (read
   them with :func:`reproduction_context`; ``keel.pipelines.dataset_version`` picks the
   recorded versions by itself);
4. compare the new run's model file hash, or else its metrics within a tolerance
   (``|new - old| <= tolerance`` or ``<= tolerance * |old|``).

Nothing is registered by the re-run (``log_model(registered_model_name=...)`` only tags the
run with the name it would have used) unless ``register=True``, which registers the
reproduced model afterwards, tagged ``keel.reproduced_from``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from keel.exceptions import InvalidArgumentError, KeelError, NotFoundError
from keel.models._manifest import MANIFEST_FILE, Manifest
from keel.models._registry import Registry
from keel.store import ModelVersion, Store

DIFF_ARTIFACT = "_keel/uncommitted.diff"
ENV_PARAMS = "KEEL_REPRODUCE_PARAMS"
ENV_DATASETS = "KEEL_REPRODUCE_DATASETS"
ENV_OF = "KEEL_REPRODUCE_OF"
#: Unless this is 1, ``log_model`` registers nothing while a reproduction runs
#: (``reproduce(register=True)`` registers the reproduced model itself, afterwards).
ENV_REGISTER = "KEEL_REPRODUCE_REGISTER"


class ReproduceError(KeelError):
    """The recorded code could not be checked out or re-run."""


@dataclass(frozen=True)
class ReproduceReport:
    ref: str
    commit: str
    diff_applied: bool
    new_run_id: str | None
    same_file: bool
    metrics: dict[str, tuple[float, float | None, bool]] = field(default_factory=dict)
    tolerance: float = 1e-6
    output_tail: str = ""
    command: list[str] = field(default_factory=list)
    registered: str | None = None

    @property
    def matches(self) -> bool:
        if self.same_file:
            return True
        return bool(self.metrics) and all(ok for _a, _b, ok in self.metrics.values())


def reproduction_context(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Params and dataset versions an entry point is asked to use (empty outside ``reproduce``)."""
    env = os.environ if environ is None else environ
    return {
        "of": env.get(ENV_OF),
        "params": json.loads(env.get(ENV_PARAMS) or "{}"),
        "datasets": json.loads(env.get(ENV_DATASETS) or "[]"),
    }


def _git(cwd: Path, *args: str, input_bytes: bytes | None = None) -> str:
    out = subprocess.run(
        ["git", *args], cwd=cwd, input=input_bytes, capture_output=True, timeout=120, check=False
    )
    if out.returncode != 0:
        raise ReproduceError(
            f"git {' '.join(args[:3])} failed in {cwd}: {out.stderr.decode(errors='replace')[:500]}"
        )
    return out.stdout.decode(errors="replace")


def reproduce(
    registry: Registry,
    ref: str,
    *,
    tolerance: float = 1e-6,
    timeout_s: float = 3600,
    keep_worktree: bool = False,
    register: bool = False,
) -> ReproduceReport:
    """Re-run what produced ``ref`` and report whether the new model matches."""
    version = registry.resolve(ref)
    lineage = version.lineage
    commit, root = lineage.get("git_commit"), lineage.get("git_root")
    pipeline = lineage.get("pipeline") or {}
    if not commit or not root or not version.run_id:
        raise InvalidArgumentError(
            f"{version.ref} cannot be reproduced: it records no git commit or repository "
            "(it was imported, or logged outside a git checkout)"
        )
    store = registry.store
    tmp = Path(tempfile.mkdtemp(prefix="keel-reproduce-"))
    worktree = tmp / "src"
    try:
        _git(Path(root), "worktree", "add", "--detach", str(worktree), commit)
        diff_applied = _apply_diff(store, str(pipeline.get("run_id") or version.run_id), worktree)
        command, cwd = _command(store, version, Path(root), worktree, tmp)
        started = int(time.time() * 1000)
        output = _run(command, cwd, _env(store, version, cwd), timeout_s)
        new_run = _new_run(store, version, started)
        report = _compare(store, version, commit, diff_applied, new_run, tolerance, output)
        report = replace(report, command=command)
        if register and new_run is not None:
            report = replace(report, registered=_register(registry, version, new_run.id))
        return report
    finally:
        if not keep_worktree:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(worktree)],
                cwd=root,
                capture_output=True,
                check=False,
            )
            shutil.rmtree(tmp, ignore_errors=True)


def _command(
    store: Store, version: ModelVersion, root: Path, worktree: Path, tmp: Path
) -> tuple[list[str], Path]:
    """What to run in the worktree: the pipeline with its params, or the script with its args."""
    lineage = version.lineage
    pipeline = lineage.get("pipeline") or {}
    target = str(pipeline.get("target") or "")
    base = Path(lineage.get("cwd") or root)
    if target and not target.startswith("__main__:"):
        run_dir = _inside(root, worktree, base) or worktree
        params = tmp / "params.json"
        params.write_text(json.dumps(_decoded(pipeline.get("params") or {})))
        experiment = store.experiments.get(int(lineage.get("experiment_id") or 0)).name
        command = [sys.executable, "-m", "keel.cli", "pipeline", "run"]
        command += [_target_in(root, worktree, base, target), "--no-cache"]
        return [*command, "--params", str(params), "--experiment", experiment], run_dir
    entry = lineage.get("entrypoint")
    if not entry:
        raise InvalidArgumentError(f"{version.ref} cannot be reproduced: it records no entry point")
    script, run_dir = _locate(root, worktree, str(entry), lineage.get("cwd"))
    return [sys.executable, str(script), *(lineage.get("argv") or [])], run_dir


def _inside(root: Path, worktree: Path, path: Path) -> Path | None:
    try:
        return worktree / path.resolve().relative_to(root.resolve())
    except ValueError:
        return None


def _target_in(root: Path, worktree: Path, base: Path, target: str) -> str:
    """A ``file.py:fn`` target moved into the worktree (``module:fn`` stays as it is)."""
    module, _, attr = target.rpartition(":")
    if not (module.endswith(".py") or "/" in module):
        return target
    path = Path(module) if Path(module).is_absolute() else base / module
    moved = _inside(root, worktree, path)
    if moved is None:
        raise ReproduceError(f"pipeline file {module} is outside the repository {root}")
    return f"{moved}:{attr}"


def _decoded(params: Mapping[str, Any]) -> dict[str, Any]:
    """Recorded parameter texts (JSON where they could be) back to values."""
    out: dict[str, Any] = {}
    for key, text in params.items():
        try:
            out[key] = json.loads(text) if isinstance(text, str) else text
        except ValueError:
            out[key] = text
    return out


def _register(registry: Registry, version: ModelVersion, run_id: str) -> str:
    store = registry.store
    paths = [
        a.path[: -len(MANIFEST_FILE) - 1]
        for a in store.artifacts.list(run_id)
        if a.path.endswith("/" + MANIFEST_FILE)
    ]
    if not paths:
        raise ReproduceError(f"the reproduction run {run_id} logged no model to register")
    made = registry.register_run(
        f"runs:/{run_id}/{paths[0]}", version.name, tags={"keel.reproduced_from": version.ref}
    )
    return made.ref


def _apply_diff(store: Store, run_id: str, worktree: Path) -> bool:
    try:
        art = store.artifacts.get(run_id, DIFF_ARTIFACT)
    except NotFoundError:
        return False
    patch = store.blobs.read_bytes(art.blob_sha)
    if patch.strip():
        _git(worktree, "apply", "--whitespace=nowarn", "-", input_bytes=patch)
    return True


def _locate(root: Path, worktree: Path, entry: str, cwd: str | None) -> tuple[Path, Path]:
    """The entry point and working folder inside the worktree."""
    entry_path = Path(entry)
    base = Path(cwd) if cwd else root
    absolute = entry_path if entry_path.is_absolute() else base / entry_path
    try:
        rel = absolute.resolve().relative_to(root.resolve())
    except ValueError as exc:
        raise ReproduceError(f"entry point {entry} is outside the repository {root}") from exc
    try:
        run_dir = worktree / base.resolve().relative_to(root.resolve())
    except ValueError:
        run_dir = worktree
    script = worktree / rel
    if not script.is_file():
        raise ReproduceError(f"entry point {rel} does not exist at the recorded commit")
    return script, run_dir


def _env(store: Store, version: ModelVersion, cwd: Path) -> dict[str, str]:
    settings = store.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_REPRODUCE")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(cwd), env.get("PYTHONPATH")]))
    env.update(
        {
            "KEEL_HOME": str(settings.home),
            "KEEL_DB_URI": settings.db_uri,
            "KEEL_ARTIFACTS_URI": settings.artifacts_uri,
            "KEEL_PROJECT": settings.project,
            ENV_OF: version.ref,
            ENV_PARAMS: json.dumps(version.lineage.get("params", {})),
            ENV_DATASETS: json.dumps(
                [f"{d['name']}@{d['version']}" for d in version.lineage.get("datasets", [])]
            ),
        }
    )
    return env


def _run(command: list[str], cwd: Path, env: dict[str, str], timeout_s: float) -> str:
    name = Path(command[1]).name if command[1] != "-m" else " ".join(command[2:5])
    try:
        out = subprocess.run(
            command,
            cwd=cwd,
            env=env,
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ReproduceError(f"{name} did not finish within {timeout_s:.0f} s") from exc
    text = (out.stdout + out.stderr).decode(errors="replace")
    if out.returncode != 0:
        raise ReproduceError(f"{name} exited with code {out.returncode}:\n{text[-2000:]}")
    return text[-2000:]


def _new_run(store: Store, version: ModelVersion, started: int) -> Any:
    """The run the re-run logged: in the same experiment, started after we began."""
    experiment_id = int(
        version.lineage.get("experiment_id")
        or store.runs.get(str(version.run_id)).info.experiment_id
    )
    page = store.runs.search(
        [experiment_id],
        f"attributes.start_time >= {started}",
        order_by="start_time DESC",
        max_results=20,
    )
    for run in page.runs:
        if any(a.path.endswith(MANIFEST_FILE) for a in store.artifacts.list(run.id)):
            return run
    return page.runs[0] if page.runs else None


def _compare(
    store: Store,
    version: ModelVersion,
    commit: str,
    diff_applied: bool,
    new_run: Any,
    tolerance: float,
    output: str,
) -> ReproduceReport:
    if new_run is None:
        return ReproduceReport(
            version.ref, commit, diff_applied, None, False, {}, tolerance, output
        )
    same = _same_model_file(store, version, new_run.id)
    metrics: dict[str, tuple[float, float | None, bool]] = {}
    for key, old in version.metrics.items():
        new = new_run.metrics.get(key)
        ok = new is not None and math.isclose(old, new, rel_tol=tolerance, abs_tol=tolerance)
        metrics[key] = (old, new, ok)
    return ReproduceReport(
        version.ref, commit, diff_applied, new_run.id, same, metrics, tolerance, output
    )


def _same_model_file(store: Store, version: ModelVersion, run_id: str) -> bool:
    """Does the new run's package hold a byte-identical native model file?"""
    manifests = [a for a in store.artifacts.list(run_id) if a.path.endswith(MANIFEST_FILE)]
    if not manifests:
        return False
    new = Manifest.from_yaml(store.blobs.read_bytes(manifests[0].blob_sha))
    old_file = version_file(store, version)
    if old_file is None:
        return False
    name, sha = old_file
    entry = new.files.get(name)
    return entry is not None and entry.sha256 == sha


def version_file(store: Store, version: ModelVersion) -> tuple[str, str] | None:
    if version.run_id is None:
        return None
    manifests = [a for a in store.artifacts.list(version.run_id) if a.path.endswith(MANIFEST_FILE)]
    for art in manifests:
        manifest = Manifest.from_yaml(store.blobs.read_bytes(art.blob_sha))
        if _sha(store.blobs.read_bytes(art.blob_sha)) == version.manifest_sha:
            file_name = str(manifest.flavors[manifest.flavor].get("file", ""))
            entry = manifest.files.get(file_name)
            return (file_name, entry.sha256) if entry else None
    return None


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


__all__ = ["ReproduceError", "ReproduceReport", "reproduce", "reproduction_context"]
