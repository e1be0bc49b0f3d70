"""Re-hashing an unchanged 10,000-file folder: `keel datasets status` vs `dvc status`.

Both run as CLI commands (a fresh process each time, as in a script or a git hook) over the
same folder of small files, with warm caches: keel's hash cache after one registration and
one status, DVC's state database after `dvc add` and one `dvc status`. Runs alternate
between the two tools so machine load hits both alike; the median of each is compared.

    python benchmarks/bench_datasets.py [--files 10000] [--reps 9]

Target (issue 2): keel at least 5x faster.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._peers import peer_env, peer_python, ratio_line

TARGET = 5.0
RACY_WAIT_S = 2.2  # keel trusts cached hashes only for files older than 2 s (racily clean)


def build_folder(root: Path, files: int) -> None:
    """``files`` small text files, 500 per subfolder."""
    for i in range(files):
        folder = root / f"part-{i // 500:03d}"
        if i % 500 == 0:
            folder.mkdir(parents=True)
        (folder / f"row-{i:06d}.txt").write_text(f"record {i}\n" * (1 + i % 7))


def run(cmd: list[str], cwd: Path, env: dict[str, str], ok: tuple[int, ...] = (0,)) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=9)
    args = parser.parse_args()

    dvc_python = peer_python("dvc", ["dvc"])
    dvc = [str(dvc_python.parent / "dvc")]
    keel = [sys.executable, "-m", "keel.cli"]
    with tempfile.TemporaryDirectory(prefix="keel-bench-datasets-") as tmp:
        work = Path(tmp)
        build_folder(work / "data", args.files)
        env = peer_env(KEEL_HOME=str(work / ".keel"))
        env.pop("KEEL_DB_URI", None)
        env.pop("KEEL_ARTIFACTS_URI", None)

        t_add = run([*keel, "datasets", "add", "bench", "data"], work, env)
        run([*dvc, "init", "--no-scm", "-q"], work, env)
        t_dvc_add = run([*dvc, "add", "-q", "data"], work, env)
        print(f"register {args.files} files: keel {t_add:.2f} s, dvc add {t_dvc_add:.2f} s")

        time.sleep(RACY_WAIT_S)
        status = [*keel, "datasets", "status", "bench", "data"]
        for _ in range(2):  # warm both caches (keel re-hashes racily clean files once)
            run(status, work, env)
            run([*dvc, "status", "-q"], work, env)

        # What any Typer command pays before keel runs: interpreter, click, typer, pydantic.
        floor = [sys.executable, "-c", "import click, typer.main, pydantic"]
        keel_s: list[float] = []
        dvc_s: list[float] = []
        floor_s: list[float] = []
        for _ in range(args.reps):
            keel_s.append(run(status, work, env))
            dvc_s.append(run([*dvc, "status", "-q"], work, env))
            floor_s.append(run(floor, work, env))

        # Correctness check on the same folder: one changed file is found by both.
        (work / "data" / "part-000" / "row-000000.txt").write_text("changed\n")
        run(status, work, env, ok=(1,))

    k, d = statistics.median(keel_s), statistics.median(dvc_s)
    print(f"keel status runs (s): {', '.join(f'{x:.3f}' for x in keel_s)}")
    print(f"dvc  status runs (s): {', '.join(f'{x:.3f}' for x in dvc_s)}")
    print(ratio_line(f"status, unchanged {args.files}-file folder (median)", k, d, "dvc", TARGET))
    f = statistics.median(floor_s)
    print(
        f"of keel's {k * 1000:.0f} ms, {f * 1000:.0f} ms is the CLI stack's start-up floor "
        f"(python + click + typer + pydantic); keel's own import and work: {(k - f) * 1000:.0f} ms"
    )
    print(f"load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
