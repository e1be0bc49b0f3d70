"""Server time of the UI sweep page for a sweep of 10,000 trials (issue 15: under 300 ms).

The trials go straight into the store through the sweeps and runs repositories (a real
sweep of 10,000 trials would take most of an hour), each with its child run as
``keel.sweep`` records it (params, the metric, the trial's tags): three parameters (a log
float, an int, a categorical), one value each, 2% failed. The page is requested through
the real app in this process (Starlette's test client, so only server time is counted);
the median of ``--reps`` warm requests is compared with the target, for the plain page
(its trial table: the best 50 trials), the filtered, sorted trial table as the page's
filter, sort and page links fetch it (``/sweeps/<name>/trials``, the table alone) and its
page 2, and the whole page with that filtered table (what a browser without script
loads), beside the first request (which compiles the template; the page's main-effect
importances take milliseconds and are remembered until a trial finishes) and the sweeps
list page.

    python benchmarks/bench_sweeps_ui.py [--trials 10000] [--reps 7]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from urllib.parse import unquote, urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

TARGET_MS = 300.0
#: The filtered table request: completed trials of one kind under a loss, by lr.
FILTER = "metrics.loss < 1.5 and params.kind = 'rf'"
ORDER = "params.lr DESC"


def fill(home: Path, n: int) -> object:
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
        distribution_to_json,
    )

    from keel.config import Settings
    from keel.store import open_store
    from keel.store.sweeps import TrialPatch, TrialState

    store = open_store(Settings.for_home(home))
    pid = store.projects.get_or_create("default").id
    space = {
        "lr": {"type": "float", "low": 1e-4, "high": 1.0, "log": True},
        "depth": {"type": "int", "low": 1, "high": 12},
        "kind": {"type": "categorical", "choices": ["gbt", "rf", "linear"]},
    }
    dists = {
        "lr": distribution_to_json(FloatDistribution(1e-4, 1.0, log=True)),
        "depth": distribution_to_json(IntDistribution(1, 12)),
        "kind": distribution_to_json(CategoricalDistribution(["gbt", "rf", "linear"])),
    }
    exp = store.experiments.create(pid, "sweep-big")
    parent = store.runs.create(exp.id, name="sweep-big", tags={"keel.sweep": "big"})
    sweep = store.sweeps.create(
        pid,
        "big",
        directions=["minimize"],
        spec={"space": space, "metric": "loss", "trials": n},
        run_id=parent.id,
    )
    rng = random.Random(0)
    for i in range(n):
        lr, depth, kind = 10 ** rng.uniform(-4, 0), rng.randint(1, 12), rng.randrange(3)
        failed = rng.random() < 0.02
        loss = (abs(lr - 0.05) * 3 + abs(depth - 6) / 10 + kind * 0.1) * (1 + rng.random() / 5)
        run = _trial_run(store, exp.id, parent.id, i, failed, loss, (lr, depth, kind))
        store.sweeps.add_trial(
            pid,
            sweep.id,
            TrialPatch(
                state=TrialState.FAIL if failed else TrialState.COMPLETE,
                values=None if failed else [loss],
                params={"lr": lr, "depth": float(depth), "kind": float(kind)},
                distributions=dists,
                reason="boom" if failed else None,
                run_id=run,
            ),
        )
        if i % 2000 == 1999:
            print(f"  {i + 1} trials stored", flush=True)
    return store


def _trial_run(
    store: object, exp_id: int, parent: str, i: int, failed: bool, loss: float, p: tuple
) -> str:
    """Trial ``i``'s child run as keel.sweep leaves it (params as text, the final metric)."""
    from keel.store import Metric, RunStatus

    runs = store.runs  # type: ignore[attr-defined]
    tags = {"keel.sweep": "big", "keel.sweep.trial": str(i)}
    run = runs.create(exp_id, name=f"trial-{i}", parent_id=parent, tags=tags)
    params = {"lr": repr(p[0]), "depth": str(p[1]), "kind": ("gbt", "rf", "linear")[p[2]]}
    state = "FAIL" if failed else "COMPLETE"
    metrics = [] if failed else [Metric("loss", loss, 0, 1_700_000_000_000 + i)]
    runs.log_batch(run.id, metrics=metrics, params=params, tags={"keel.sweep.state": state})
    runs.update(run.id, status=RunStatus.FAILED if failed else RunStatus.FINISHED)
    return str(run.id)


def timed(client: object, url: str, reps: int) -> tuple[float, float]:
    times = []
    for _ in range(reps + 1):
        start = time.perf_counter()
        response = client.get(url)  # type: ignore[attr-defined]
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.text[:300]
    return times[0], statistics.median(times[1:])  # the first one imports and compiles


def _next_page(html: str) -> str:
    """The page token of the trial table's "next" link."""
    found = re.search(r'id="trial-next" href="[^"]*?(?:[?&]|&amp;)page=([^&"#]+)', html)
    assert found is not None, "the filtered table has no second page"
    return unquote(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()
    from keel.server import ServerOptions, create_app

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2.*")
        from starlette.testclient import TestClient
    with tempfile.TemporaryDirectory(prefix="bench-sweeps-ui-") as tmp:
        store = fill(Path(tmp) / "home", args.trials)
        app = create_app(
            store.settings,  # type: ignore[attr-defined]
            ServerOptions(allowed_hosts=("testserver",)),
            store=store,
        )
        with TestClient(app) as client:
            first, page = timed(client, "/ui/p/default/sweeps/big", args.reps)
            query = urlencode({"filter": FILTER, "order": ORDER})
            filtered = f"/ui/p/default/sweeps/big?{query}"
            _, whole = timed(client, filtered, args.reps)
            token = urlencode({"page": _next_page(client.get(filtered).text)})
            _, table = timed(client, f"/ui/p/default/sweeps/big/trials?{query}", args.reps)
            _, second = timed(client, f"/ui/p/default/sweeps/big/trials?{query}&{token}", args.reps)
            _, listing = timed(client, "/ui/p/default/sweeps", args.reps)
            size = len(client.get("/ui/p/default/sweeps/big").content)
        store.close()  # type: ignore[attr-defined]
    for label, ms in (
        ("sweep page", page),
        ("filtered table (the fragment its links fetch)", table),
        ("its page 2 (fragment)", second),
        ("the whole page with the filtered table (no script)", whole),
    ):
        verdict = "OK" if ms <= TARGET_MS else "ABOVE TARGET"
        print(
            f"{label}, {args.trials} trials: {ms:.0f} ms median server time "
            f"(target <= {TARGET_MS:.0f} ms) {verdict}"
        )
    print(
        f"({size / 1024:.0f} KiB of HTML; filter {FILTER!r}, order {ORDER!r}); first request "
        f"{first:.0f} ms (compiles the template); sweeps list {listing:.0f} ms"
    )
    load = os.getloadavg()
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
