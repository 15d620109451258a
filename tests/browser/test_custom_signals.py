"""The demo page's custom signal (an approval answered through a Temporal Signal)
and its one-workflow watch panel, in headless Chromium against the real stack."""

from __future__ import annotations

import pytest

from tests.browser.test_demo_page import expect, shot, sign_in  # noqa: F401 - `shot` is a fixture
from tests.support import emit_in_subprocess

pytestmark = pytest.mark.browser


def ask_for_approval(page, question: str) -> str:
    page.get_by_test_id("approval-question").fill(question)
    with page.expect_response(lambda r: r.url.endswith("/api/v1/approvals") and r.request.method == "POST") as info:
        page.get_by_test_id("approval-ask").click()
    assert info.value.status == 202, info.value.text()
    return info.value.json()["workflow_id"]


def test_an_approval_request_is_answered_from_the_page_and_a_watch_panel_sees_only_its_workflow(stack, page, shot):  # noqa: F811
    sign_in(page, stack)
    workflow_id = ask_for_approval(page, "Ship version 2?")
    card = page.locator(f'[data-testid="approval"][data-workflow-id="{workflow_id}"]')
    expect(card).to_contain_text("Ship version 2?")

    page.get_by_test_id("watch-workflow").fill(workflow_id)
    page.get_by_test_id("watch-start").click()
    expect(page.get_by_test_id("watch-following")).to_have_attribute("data-following", workflow_id)
    # Another workflow of the same user: the watch panel's socket never gets it.
    emit_in_subprocess(stack.database_url, {"user_id": str(stack.demo_user), "signal_type": "status_update",
                                            "workflow_id": "some-other-workflow", "data": {"status": "noise"}})
    shot(page, "approval-waiting")

    card.get_by_test_id("approval-approve").click()
    expect(card).to_have_attribute("data-decision", "approve", timeout=60_000)
    watched = page.get_by_test_id("watch-signal")
    expect(watched).to_have_count(1)  # the approval was asked before the panel watched; completion arrives live
    expect(watched.first).to_have_attribute("data-type", "completion")
    expect(watched.first).to_have_attribute("data-workflow-id", workflow_id)
    expect(page.locator('[data-testid="inbox-item"][data-type="approval_needed"]').first).to_be_visible()
    shot(page, "approval-approved")
