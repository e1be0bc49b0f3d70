"""``keel.metric_history`` of a metric the run never logged says so, like the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

import keel
from keel.exceptions import NotFoundError


def test_a_metric_the_run_never_logged_is_an_error_naming_the_logged_ones(
    keel_home: Path,
) -> None:
    keel.init(home=keel_home)
    with keel.start_run(experiment="e", capture_env=False) as run:
        run.log_metric("loss", 0.5, step=1)
        run.log_metric("auc", 0.9)
    assert [m.value for m in keel.metric_history(run.id, "loss")] == [0.5]
    with pytest.raises(NotFoundError, match=r"has no metric 'nosuch'; it has: auc, loss"):
        keel.metric_history(run.id, "nosuch")
    with keel.start_run(experiment="e", capture_env=False) as empty:
        pass
    with pytest.raises(NotFoundError, match="it logged no metrics"):
        keel.metric_history(empty.id, "loss")
