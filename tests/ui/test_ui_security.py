"""Security of the web UI, checked in the real browser: hostile content never runs in the
keel origin, roles hold (403 shown, nothing changed), CSRF tokens are required, sessions
are HttpOnly/SameSite=Strict and end when their token is revoked."""

from __future__ import annotations

from urllib.parse import quote

from playwright.sync_api import expect
from uikit import EVIL, Session, UIWorld  # type: ignore[import-not-found]

MODEL = "breast-cancer-classifier"


def _clean(session: Session) -> None:
    pwned, title = session.pwned()
    assert pwned is None, "a script from user content ran in the keel origin"
    assert title != "pwned"  # the payloads set exactly this title; escaped text only contains it


def test_hostile_names_tags_params_notes_and_comments_stay_text(
    as_admin: Session, ui_world: UIWorld
) -> None:
    page = as_admin.page
    run = ui_world.ids["evil_run"]
    as_admin.goto("/experiments")
    _clean(as_admin)
    as_admin.goto(f"/experiments/{ui_world.ids['evil_exp']}?cols=params.p&cols=tags.t")
    _clean(as_admin)
    assert EVIL in page.locator("#runs-table").inner_text()
    as_admin.goto(f"/runs/{run}")
    _clean(as_admin)
    assert "<script>" in page.locator("#run-name").inner_text()
    note = page.locator("#run-note")
    assert "<script>" in note.inner_text() and note.locator("script, img").count() == 0
    assert note.locator("strong").inner_text() == "bold"  # markdown still renders
    page.fill(".comment-form textarea", f"review: {EVIL} and [link](javascript:alert(1))")
    page.click(".comment-form button")
    page.wait_for_selector(".comment .markdown")
    _clean(as_admin)
    comment = page.locator(".comment .markdown").last
    assert comment.locator("script, a[href^='javascript']").count() == 0
    as_admin.goto(f"/compare?runs={run}")
    _clean(as_admin)
    as_admin.shot("xss-run")


def test_html_svg_and_markdown_artifacts_never_run_script(
    as_admin: Session, ui_world: UIWorld
) -> None:
    page = as_admin.page
    run = ui_world.ids["evil_run"]
    as_admin.goto(f"/runs/{run}/artifact?path={quote('reports/report.html', safe='')}")
    frame = page.frame_locator("iframe.report")
    assert frame.locator("#h").inner_text() == "report"
    page.wait_for_timeout(300)
    _clean(as_admin)
    sandbox = page.locator("iframe.report").get_attribute("sandbox")
    assert sandbox == ""  # no allow-scripts, no allow-same-origin
    as_admin.goto(f"/runs/{run}/artifact?path={quote('notes/raw.md', safe='')}")
    md = page.locator("#md-preview")
    assert md.locator("script, img, a[href^='javascript']").count() == 0
    _clean(as_admin)
    as_admin.goto(f"/runs/{run}/artifact?path={quote('plots/evil.svg', safe='')}")
    page.wait_for_timeout(300)
    _clean(as_admin)
    # opened directly, the raw files are served with CSP sandbox: scripts are blocked
    for path in ("reports/report.html", "plots/evil.svg"):
        response = as_admin.goto(f"/runs/{run}/raw/{path}")
        assert response.headers["content-security-policy"].startswith("sandbox")
        assert response.headers["x-content-type-options"] == "nosniff"
        page.wait_for_timeout(300)
        assert page.evaluate("() => window.__pwned") is None
    assert page.title() != "pwned"


def test_reader_cannot_promote_delete_or_remove_alias(
    as_reader: Session, ui_world: UIWorld
) -> None:
    page = as_reader.page
    store = ui_world.store()
    try:
        pid = store.projects.get("default").id
        before = store.registry.get_model(pid, MODEL).aliases
        as_reader.goto(f"/models/{MODEL}")
        page.fill('#promote-form input[name="alias"]', "staging")
        page.click("#promote-form button")
        flash = page.locator("#flash")
        flash.wait_for(state="visible")
        assert flash.inner_text().startswith("403")
        assert "needs writer" in flash.inner_text()
        as_reader.shot("reader-refused")
        page.locator("#aliases button").first.click()
        expect(page.locator("#flash")).to_contain_text("403")
        assert store.registry.get_model(pid, MODEL).aliases == before
        as_reader.goto(f"/runs/{ui_world.ids['evil_run']}")
        page.click("#delete-run")
        expect(page.locator("#flash")).to_contain_text("403")
        assert store.runs.get_info(ui_world.ids["evil_run"]).lifecycle.value == "active"
    finally:
        store.close()


def test_writer_promotes_and_removes_an_alias(as_writer: Session, ui_world: UIWorld) -> None:
    page = as_writer.page
    store = ui_world.store()
    try:
        pid = store.projects.get("default").id
        as_writer.goto(f"/models/{MODEL}")
        page.select_option('#promote-form select[name="version"]', "1")
        page.fill('#promote-form input[name="alias"]', "staging")
        page.click("#promote-form button")
        page.wait_for_url(f"**/models/{MODEL}/1")
        assert page.locator("h1 .tag", has_text="staging").count() == 1
        assert store.registry.get_model(pid, MODEL).aliases["staging"] == 1
        as_writer.goto(f"/models/{MODEL}")
        page.locator("#aliases li", has_text="staging").locator("button").click()
        expect(page.locator("body")).not_to_contain_text("staging →")
        assert "staging" not in store.registry.get_model(pid, MODEL).aliases
    finally:
        store.close()


def test_state_changes_need_the_csrf_token(as_writer: Session, ui_world: UIWorld) -> None:
    request = as_writer.context.request  # shares the signed-in browser's cookies
    url = ui_world.page_url(f"/models/{MODEL}/promote")
    body = {"version": 1, "alias": "csrf"}
    missing = request.post(url, data=body)
    assert missing.status == 403 and "CSRF" in missing.json()["message"]
    wrong = request.post(url, data=body, headers={"X-Keel-CSRF": "0" * 64})
    assert wrong.status == 403
    form = request.post(url, form={"version": "1", "alias": "csrf"})  # a cross-site form
    assert form.status == 415
    assert request.get(url).status >= 400  # no GET changes anything
    store = ui_world.store()
    try:
        assert (
            "csrf" not in store.registry.get_model(store.projects.get("default").id, MODEL).aliases
        )
    finally:
        store.close()


def test_login_cookie_flags_logout_and_revocation(anonymous: Session, ui_world: UIWorld) -> None:
    page = anonymous.page
    anonymous.goto("/experiments")
    assert "/ui/login?next=" in page.url
    page.fill('input[name="token"]', "keel_not-a-real-token")
    page.click('button[type="submit"]')
    expect(page.locator("#flash")).to_contain_text("401")
    store = ui_world.store()
    try:
        user = store.users.create_user("temp-ui-user")
        store.users.set_role(store.projects.get("default").id, user.id, "reader")
        token_info, token = store.users.create_token(user.id, "temp")
        page.fill('input[name="token"]', token)
        page.click('button[type="submit"]')
        page.wait_for_url("**/ui/p/default/experiments")
        cookie = next(c for c in anonymous.context.cookies() if c["name"] == "keel_ui")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert "keel_ui" not in page.evaluate("() => document.cookie")
        assert token not in cookie["value"]  # sealed, not the token in clear
        store.users.revoke_token(token_info.id)
        anonymous.goto("/experiments")
        assert "/ui/login" in page.url  # a revoked token ends its sessions at once
    finally:
        store.close()


def test_projects_without_a_role_do_not_exist(as_reader: Session, ui_world: UIWorld) -> None:
    store = ui_world.store()
    try:
        secret = store.projects.get_or_create("secret")
        exp = store.experiments.create(secret.id, "hidden")
        run = store.runs.create(exp.id, name="hidden-run")
    finally:
        store.close()
    page = as_reader.page
    assert page.goto(f"{ui_world.url}/ui/p/secret/experiments").status == 404
    assert page.goto(ui_world.page_url(f"/runs/{run.id}")).status == 404
    page.goto(f"{ui_world.url}/ui/")
    assert page.locator("a", has_text="secret").count() == 0
