"""Who may do what on the labeling routes: a reader cannot label, an annotator works their
own queue as themselves and sees another's answer only after answering, an admin sees all;
answers that do not match the config are refused by the server too."""

from __future__ import annotations

from typing import Any

CONFIG = {"kind": "classification", "labels": ["cat", "dog"]}


def test_roles_on_the_labeling_routes(auth_client: Any) -> None:
    client, h, pid = auth_client
    base = f"/api/v1/projects/{pid}/labeling"
    r = client.post(base, json={"name": "pets", "config": CONFIG, "overlap": 2}, headers=h["ada"])
    assert r.status_code == 200, r.text
    r = client.post(
        f"{base}/pets/tasks", json={"tasks": [{"data": {"text": "x"}}]}, headers=h["ada"]
    )
    [task_id] = r.json()["ids"]
    # a reader sees the project and its progress but cannot take or answer tasks
    assert client.get(f"{base}/pets/progress", headers=h["rita"]).json()["tasks"] == 1
    r = client.post(f"{base}/pets/next", json={"annotator": "rita"}, headers=h["rita"])
    assert r.status_code == 403 and "needs writer" in r.json()["message"]
    # an annotator takes from their own queue only
    r = client.post(f"{base}/pets/next", json={"annotator": "wendy"}, headers=h["walt"])
    assert r.status_code == 403 and "you label as 'walt'" in r.json()["message"]
    assert (
        client.post(f"{base}/pets/next", json={"annotator": "walt"}, headers=h["walt"]).json()[
            "task"
        ]["id"]
        == task_id
    )
    answer = f"{base}/pets/tasks/{task_id}/annotations"
    r = client.post(
        answer, json={"annotator": "walt", "result": {"label": "cow"}}, headers=h["walt"]
    )
    assert r.status_code == 400 and "unknown label 'cow'" in r.json()["message"]
    r = client.post(
        answer, json={"annotator": "walt", "result": {"label": "cat"}}, headers=h["walt"]
    )
    assert r.status_code == 200
    r = client.post(
        answer, json={"annotator": "walt", "result": {"label": "dog"}}, headers=h["walt"]
    )
    assert r.status_code == 409
    # wendy has not answered: walt's answer is hidden from her, even by task id
    listing = f"{base}/pets/annotations"
    r = client.get(listing, params={"task_id": task_id}, headers=h["wendy"])
    assert r.status_code == 403 and "only after answering" in r.json()["message"]
    assert client.get(listing, headers=h["wendy"]).status_code == 403
    assert client.get(listing, params={"annotator": "wendy"}, headers=h["wendy"]).json() == {
        "annotations": []
    }
    r = client.post(
        answer, json={"annotator": "wendy", "result": {"label": "dog"}}, headers=h["wendy"]
    )
    assert r.status_code == 200
    seen = client.get(listing, params={"task_id": task_id}, headers=h["wendy"]).json()
    assert sorted(a["annotator"] for a in seen["annotations"]) == ["walt", "wendy"]
    assert len(client.get(listing, headers=h["ada"]).json()["annotations"]) == 2
    # an admin may act for an annotator
    r = client.post(f"{base}/pets/next", json={"annotator": "walt"}, headers=h["ada"])
    assert r.status_code == 200 and r.json() == {"task": None}
    # undo: your own answer only (or any, as a project admin); a reader none
    undo = f"{base}/pets/tasks/{task_id}/undo"
    r = client.post(undo, json={"annotator": "walt"}, headers=h["wendy"])
    assert r.status_code == 403 and "you label as 'wendy'" in r.json()["message"]
    assert client.post(undo, json={"annotator": "rita"}, headers=h["rita"]).status_code == 403
    r = client.post(undo, json={"annotator": "walt"}, headers=h["walt"])
    assert r.status_code == 200 and r.json()["annotation"]["result"] == {"label": "cat"}
    r = client.post(undo, json={"annotator": "walt"}, headers=h["walt"])
    assert r.status_code == 404 and "nothing to undo" in r.json()["message"]
    r = client.post(undo, json={"annotator": "wendy"}, headers=h["ada"])
    assert r.status_code == 200 and r.json()["annotation"]["annotator"] == "wendy"
    assert client.get(listing, headers=h["ada"]).json() == {"annotations": []}
    # the labeling pages: a reader sees the list and the status, not the annotator page
    assert client.get("/ui/p/team/labeling", headers=h["rita"]).status_code == 200
    assert client.get("/ui/p/team/labeling/pets", headers=h["rita"]).status_code == 200
    assert client.get("/ui/p/team/label/pets", headers=h["rita"]).status_code == 403
    assert client.get("/ui/p/team/labeling/nope", headers=h["rita"]).status_code == 404
    # the page's queue requests: a writer's, with the session's CSRF token; nothing is taken
    before = client.get(f"{base}/pets/progress", headers=h["ada"]).json()
    for who in ("rita", "walt"):
        r = client.post("/ui/p/team/label/pets/next", headers=h[who])
        assert r.status_code == 403, r.text
        r = client.post(f"/ui/p/team/label/pets/tasks/{task_id}/skip", json={"reason": "x"},
                        headers=h[who])  # fmt: skip
        assert r.status_code == 403, r.text
    assert client.get(f"{base}/pets/progress", headers=h["ada"]).json() == before
