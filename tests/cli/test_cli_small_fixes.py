"""One-line failures say only what failed: ``keel serve`` of a missing model prints no address."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.conftest import KeelCli


def test_serve_of_a_missing_model_prints_no_address(run_keel: KeelCli) -> None:
    proc = run_keel("serve", "nosuch@champion", "--port", "0", check=False)
    assert proc.returncode == 3
    assert proc.stderr.strip().splitlines() == [
        "Error: registered model 'nosuch' does not exist; see `keel models list` for the names"
    ]


def test_quickstart_alert_titles_end_in_an_ellipsis_when_cut() -> None:
    from keel.quickstart._monitoring import _clip

    title = "drift in 7 columns: worst_texture, mean_texture, texture_error, worst_area, more"
    assert _clip(title, 70) == title[:69] + "…" and len(_clip(title, 70)) == 70
    assert _clip("short title", 70) == "short title"
