"""The inbox components on the demo page, in headless Chromium against the real stack:
the bell in two tabs, archive, bulk archive of a workflow, delete, and the keyboard.

Every test starts from "everything seen" for the demo user (earlier tests leave signals behind).
With SIGNALHUB_UPDATE_SCREENSHOT=1 the last test also refreshes docs/screenshot.png.
"""

from __future__ import annotations

import os
import shutil
import uuid

import httpx
import psycopg
import pytest

from signalhub.auth import mint_user_token
from tests.browser.test_demo_page import expect, shot, sign_in, upload_sample, workflow_card  # noqa: F401 (shot: fixture)
from tests.support import ROOT, SECRET, emit_in_subprocess

pytestmark = pytest.mark.browser

SCREENSHOT = ROOT / "docs" / "screenshot.png"


@pytest.fixture
def as_demo_user(stack):
    """REST calls as the demo user; marks everything seen first, so badges start at 0."""
    headers = {"Authorization": f"Bearer {mint_user_token(SECRET, stack.demo_user)}"}
    with httpx.Client(base_url=stack.url, headers=headers, timeout=10) as http:
        assert http.post("/api/v1/inbox/bulk", json={"action": "seen", "all": True}).status_code == 200
        yield http


def emit(stack, workflow_id: str, *steps: str) -> list[str]:
    emitted = emit_in_subprocess(
        stack.database_url,
        *[{"user_id": str(stack.demo_user), "signal_type": "progress", "workflow_id": workflow_id,
           "data": {"progress": (n + 1) / (len(steps) + 1), "step": step}} for n, step in enumerate(steps)],
    )
    return [e["id"] for e in emitted]


def bell(page):
    return page.get_by_test_id("inbox-bell")


def main_inbox(page):
    """The inbox of the page's right column (the bell's popover has one too)."""
    return page.locator("main .sh-inbox")


def item(page, signal_id: str):
    return main_inbox(page).locator(f'[data-testid="inbox-item"][data-id="{signal_id}"]')


def test_opening_the_bell_in_one_tab_clears_unseen_in_both_and_keeps_the_items_unread(stack, context, as_demo_user, shot):
    first, second = context.new_page(), context.new_page()
    for page in (first, second):
        sign_in(page, stack)
        expect(bell(page)).to_have_attribute("data-unseen", "0")
    ids = emit(stack, f"bell-{uuid.uuid4()}", "fetch", "parse", "store")
    for page in (first, second):
        expect(bell(page)).to_have_attribute("data-unseen", "3")
        expect(page.get_by_test_id("bell-badge")).to_have_text("3")

    bell(first).click()
    panel = first.get_by_role("dialog", name="Notifications")
    expect(panel.locator(f'[data-testid="inbox-item"][data-id="{ids[0]}"]')).to_be_visible()
    shot(first, "bell-open")
    for page in (first, second):
        expect(bell(page)).to_have_attribute("data-unseen", "0")
        expect(page.get_by_test_id("bell-badge")).to_have_count(0)
    for signal_id in ids:  # seen is not read
        expect(item(second, signal_id)).to_have_attribute("data-read", "false")
        expect(item(second, signal_id)).to_have_attribute("data-seen", "true")
    assert as_demo_user.get("/api/v1/inbox/counts").json()["unseen"] == 0


def test_archiving_in_one_tab_removes_the_item_in_both(stack, context, as_demo_user):
    first, second = context.new_page(), context.new_page()
    sign_in(first, stack)
    sign_in(second, stack)
    [kept, archived] = emit(stack, f"archive-{uuid.uuid4()}", "kept", "archived")
    for page in (first, second):
        expect(item(page, archived)).to_have_count(1)

    item(first, archived).get_by_test_id("archive").click()
    for page in (first, second):
        expect(item(page, archived)).to_have_count(0)
        expect(item(page, kept)).to_have_count(1)
    main_inbox(second).get_by_test_id("inbox-tab-archived").click()
    expect(item(second, archived)).to_have_attribute("data-archived", "true")
    [stored] = [s for s in as_demo_user.get("/api/v1/inbox/signals", params={"archived": "true"}).json()["signals"]
                if s["id"] == archived]
    assert stored["archived"] is True and stored["archived_at"]


def test_a_workflows_signals_are_archived_in_bulk_from_its_card(stack, page, as_demo_user, shot):
    sign_in(page, stack)
    workflow_id = upload_sample(page, "notes")
    card = workflow_card(page, workflow_id)
    expect(card).to_have_attribute("data-phase", "completed", timeout=60_000)
    inbox = main_inbox(page)
    inbox.get_by_test_id("filter-workflow").fill(workflow_id)
    expect(inbox.get_by_test_id("inbox-item")).to_have_count(6)

    card.get_by_test_id("workflow-archive").click()
    expect(card.get_by_test_id("workflow-archived")).to_have_text("6 archived")
    expect(inbox.get_by_test_id("inbox-item")).to_have_count(0)
    expect(card.get_by_test_id("workflow-signal")).to_have_count(6)  # still every step of the workflow
    inbox.get_by_test_id("inbox-tab-archived").click()
    expect(inbox.get_by_test_id("inbox-item")).to_have_count(6)
    shot(page, "workflow-archived")
    body = as_demo_user.get("/api/v1/inbox/signals", params={"workflow_id": workflow_id}).json()
    assert body["signals"] == []


def test_deleting_a_signal_removes_it_from_every_tab_and_after_a_reload(stack, context, as_demo_user):
    first, second = context.new_page(), context.new_page()
    sign_in(first, stack)
    sign_in(second, stack)
    [gone, kept] = emit(stack, f"delete-{uuid.uuid4()}", "to delete", "to keep")
    expect(item(second, gone)).to_have_count(1)
    item(first, gone).get_by_test_id("delete").click()
    for page in (first, second):
        expect(item(page, gone)).to_have_count(0)
        expect(item(page, kept)).to_have_count(1)
    second.reload()
    expect(item(second, kept)).to_have_count(1)
    expect(item(second, gone)).to_have_count(0)
    main_inbox(second).get_by_test_id("inbox-tab-archived").click()
    expect(item(second, gone)).to_have_count(0)
    with psycopg.connect(stack.database_url) as conn:
        deleted_at, data = conn.execute(
            "SELECT deleted_at, data FROM signalhub.workflow_signals WHERE id = %s", (gone,)).fetchone()
    assert deleted_at is not None and data == {}, "kept as a tombstone without content"


def test_the_components_work_from_the_keyboard(stack, page, as_demo_user):
    sign_in(page, stack)
    workflow_id = f"keys-{uuid.uuid4()}"
    ids = emit(stack, workflow_id, "one", "two", "three", "four")
    inbox = main_inbox(page)
    inbox.get_by_test_id("filter-workflow").fill(workflow_id)
    items = inbox.get_by_test_id("inbox-item")
    expect(items).to_have_count(4)

    # Tabs: arrow keys move the selection and the focus.
    inbox.get_by_role("tab", name="All").focus()
    page.keyboard.press("ArrowLeft")
    expect(inbox.get_by_role("tab", name="Unread")).to_be_focused()
    expect(inbox.get_by_role("tab", name="Unread")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("End")
    expect(inbox.get_by_role("tab", name="Archived")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("ArrowLeft")
    expect(inbox.get_by_role("tab", name="All")).to_have_attribute("aria-selected", "true")
    expect(items).to_have_count(4)

    # The list: one tab stop; arrows move; r reads, e archives, Delete deletes.
    items.first.focus()
    page.keyboard.press("ArrowDown")
    expect(item(page, ids[2])).to_be_focused()
    page.keyboard.press("r")
    expect(item(page, ids[2])).to_have_attribute("data-read", "true")
    page.keyboard.press("e")
    expect(item(page, ids[2])).to_have_count(0)
    items.first.focus()
    page.keyboard.press("Delete")
    expect(item(page, ids[3])).to_have_count(0)
    expect(items).to_have_count(2)
    states = {s["id"]: s for s in as_demo_user.get("/api/v1/inbox/signals", params={"archived": "any", "limit": 100}).json()["signals"]}
    assert states[ids[2]]["archived"] and states[ids[2]]["read"] and ids[3] not in states

    # The bell: Enter opens its dialog, Escape closes it and gives the focus back.
    bell(page).focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog", name="Notifications")).to_be_visible()
    expect(bell(page)).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("Tab")
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(bell(page)).to_be_focused()


def test_screenshot_of_the_demo_page(stack, page, as_demo_user, artifacts):
    sign_in(page, stack)
    done = upload_sample(page, "notes")
    failed = upload_sample(page, "blank")
    expect(workflow_card(page, done)).to_have_attribute("data-phase", "completed", timeout=60_000)
    expect(workflow_card(page, failed)).to_have_attribute("data-phase", "failed", timeout=60_000)
    emit(stack, f"report-{uuid.uuid4()}", "Collecting sales figures")
    expect(bell(page)).not_to_have_attribute("data-unseen", "0")
    path = artifacts / "browser" / "demo-page.png"
    path.parent.mkdir(exist_ok=True)
    page.screenshot(path=path, animations="disabled")
    assert path.stat().st_size > 10_000
    if os.environ.get("SIGNALHUB_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(path, SCREENSHOT)
