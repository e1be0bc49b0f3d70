"""``keel sweep show``'s importances: fANOVA is fitted once, by the first show of a finished
sweep, and kept on the sweep's run; a running sweep shows main effects unless fANOVA is asked
for."""

from __future__ import annotations

import json

import keel
from keel.store.sweeps import TrialPatch, TrialState
from keel.tracking import TrackingClient
from keel.tuning import describe_sweep
from keel.tuning._sweep_fanova import TAG
from keel.tuning._sweep_ops import RUNNING_NOTE


def _quad(params: dict[str, float]) -> float:
    return (params["x"] - 0.5) ** 2 + 0.01 * params["y"]


def test_a_finished_sweep_keeps_fanova_on_its_run_and_show_reads_it(
    client: TrackingClient,
) -> None:
    space = {
        "x": {"type": "float", "low": 0, "high": 1},
        "y": {"type": "float", "low": 0, "high": 1},
    }
    result = keel.sweep(_quad, space, trials=6, seed=0, name="kept", client=client)
    run_id = result.sweep.run_id or ""
    assert TAG not in client.store.runs.get(run_id).tags  # the sweep does not pay the fit
    rep = describe_sweep("kept", client=client)  # the first show fits it and keeps it
    kept = json.loads(client.store.runs.get(run_id).tags[TAG])
    assert kept["trials"] == 6 and set(kept["fanova"]) == {"x", "y"}
    assert rep.importance_method == "fanova" and rep.importances == kept["fanova"]
    # what show prints is what was kept, not a forest fitted again
    client.store.runs.set_tags(run_id, {TAG: json.dumps({"trials": 6, "fanova": {"y": 1.0}})})
    assert describe_sweep("kept", client=client).importances == {"y": 1.0}
    # kept for another trial count (a resumed sweep) is stale: fitted again and kept anew
    client.store.runs.set_tags(run_id, {TAG: json.dumps({"trials": 5, "fanova": {"y": 1.0}})})
    again = describe_sweep("kept", client=client)
    assert again.importances == kept["fanova"]
    assert json.loads(client.store.runs.get(run_id).tags[TAG]) == kept


def test_a_running_sweep_shows_main_effects_unless_fanova_is_asked_for(
    client: TrackingClient,
) -> None:
    store, pid = client.store, client.project.id
    dist = json.dumps({"name": "FloatDistribution", "attributes": {"low": 0.0, "high": 1.0}})
    s = store.sweeps.create(pid, "running", directions=["minimize"])
    for i in range(8):
        patch = TrialPatch(
            state=TrialState.COMPLETE,
            values=[float(i % 4)],
            params={"x": i / 8},
            distributions={"x": dist},
        )
        store.sweeps.add_trial(pid, s.id, patch)
    rep = describe_sweep("running", client=client)
    assert rep.importance_method == "main-effects" and rep.importance_note == RUNNING_NOTE
    assert set(rep.importances) == {"x"}
    asked = describe_sweep("running", importance="fanova", client=client)
    assert asked.importance_method == "fanova" and set(asked.importances) == {"x"}
