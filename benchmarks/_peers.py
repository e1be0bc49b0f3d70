"""Peers (mlflow, dvc, evidently ...) live in their own virtualenvs, never in keel's.

``peer_python("mlflow", ["mlflow==3.*"])`` creates ``benchmarks/.venv-mlflow`` on first use
and returns its interpreter; later calls reuse it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUIET_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "DVC_NO_ANALYTICS": "1",
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    "NML_DISABLE_USAGE_LOGGING": "1",
}


def peer_python(name: str, packages: Sequence[str]) -> Path:
    """The interpreter of a virtualenv holding ``packages`` (created if missing)."""
    venv = HERE / f".venv-{name}"
    python = venv / "bin" / "python"
    marker = venv / ".keel-peer-ready"
    wanted = "\n".join(packages)
    if marker.exists() and marker.read_text() == wanted:
        return python
    print(f"[peers] creating {venv.name} with {' '.join(packages)} (once)", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *packages],
        check=True,
    )
    marker.write_text(wanted)
    return python


def compile_keel() -> None:
    """Write keel's bytecode, as ``pip install`` does for a regular install (the peers'
    virtualenvs have theirs). An editable install under PYTHONDONTWRITEBYTECODE=1, as on the
    CI machines, would otherwise recompile every keel module at each CLI start."""
    import compileall

    import keel

    compileall.compile_dir(str(Path(keel.__file__).parent), quiet=1)


def peer_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(QUIET_ENV)
    env.update(extra)
    return env


def timed(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    """(seconds, result) of one call."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def ratio_line(what: str, keel_s: float, peer_s: float, peer: str, target: float) -> str:
    """One printed line: both timings, the speed-up and whether it meets the target."""
    speedup = peer_s / keel_s if keel_s > 0 else float("inf")
    verdict = "OK" if speedup >= target else "BELOW TARGET"
    return (
        f"{what:<48} keel {keel_s * 1000:10.1f} ms  {peer} {peer_s * 1000:10.1f} ms  "
        f"ratio {speedup:6.1f}x  (target >= {target}x) {verdict}"
    )
