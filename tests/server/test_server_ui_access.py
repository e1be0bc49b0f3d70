"""UI pages resolve their project (the access decision) before reading the rest of the
request: a project the caller cannot see is 404 even when the query is also wrong."""

from __future__ import annotations

from typing import Any


def test_unknown_project_is_404_before_the_query_is_read(client: Any) -> None:
    bad_window = "a-window-longer-than-eight"
    answer = client.get(f"/ui/p/no-such-project/deployments/d?window={bad_window}")
    assert answer.status_code == 404, answer.text
    assert "no-such-project" in answer.text


def test_a_bad_query_of_a_visible_project_is_still_refused(client: Any) -> None:
    answer = client.get("/ui/p/default/deployments/d?window=a-window-longer-than-eight")
    assert answer.status_code == 400, answer.text
    assert "query.window" in answer.json()["message"]
