"""The demo page in headless Chromium against the real stack (API, Temporal, worker).

Screenshots of each state go to test-artifacts/browser/.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import psycopg
import pytest

from signalhub.auth import mint_user_token
from signalhub.store import libpq_options
from tests.support import SECRET, ApiProcess, emit_in_subprocess, free_port

pytestmark = pytest.mark.browser

EVERY_STEP = ["started", "Extracting text", "Chunking", "Generating embeddings", "Storing chunks", "completed"]
UP_TO_EMBEDDING = EVERY_STEP[:4]


def expect(target):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


@pytest.fixture
def shot(artifacts: Path):
    folder = artifacts / "browser"
    folder.mkdir(exist_ok=True)

    def take(page, name: str) -> None:
        page.screenshot(path=folder / f"{name}.png", full_page=True, animations="disabled")

    return take


def sign_in(page, stack) -> None:
    page.goto(f"{stack.url}/")
    page.get_by_test_id("demo-sign-in").click()
    expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "connected")
    expect(page.get_by_test_id("user-id")).to_have_text(str(stack.demo_user))
    expect(page.get_by_test_id("unread-badge")).not_to_have_attribute("data-count", "")


def upload_sample(page, sample: str) -> str:
    """Click a sample; returns the workflow id the API answered with."""
    with page.expect_response(lambda r: r.url.endswith("/api/v1/documents") and r.request.method == "POST") as info:
        page.get_by_test_id(f"sample-{sample}").click()
    assert info.value.status == 202, info.value.text()
    return info.value.json()["workflow_id"]


def workflow_card(page, workflow_id: str):
    return page.locator(f'[data-testid="workflow-card"][data-workflow-id="{workflow_id}"]')


def shown_signals(card) -> list[tuple[int, str]]:
    """(seq, step name) of every signal the card lists, top to bottom."""
    return [
        (int(seq), name.strip())
        for seq, name in card.locator('[data-testid="workflow-signal"]').evaluate_all(
            "items => items.map(li => [li.dataset.seq, li.querySelector('.sh-step-name').textContent])"
        )
    ]


def stored_seqs(stack, workflow_id: str) -> list[int]:
    with psycopg.connect(stack.database_url, options=libpq_options()) as conn:
        rows = conn.execute(
            "SELECT seq FROM workflow_signals WHERE workflow_id = %s ORDER BY seq", (workflow_id,)
        ).fetchall()
    return [row[0] for row in rows]


def wait_for_stored(stack, workflow_id: str, count: int, timeout: float = 60.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seqs = stored_seqs(stack, workflow_id)
        if len(seqs) >= count:
            return seqs
        time.sleep(0.1)
    raise TimeoutError(f"{workflow_id}: {len(stored_seqs(stack, workflow_id))} of {count} signals stored")


def badge(page):
    return page.get_by_test_id("unread-badge")


def unread(page) -> int:
    return int(badge(page).get_attribute("data-count"))


def test_processing_a_document_shows_each_step_live_then_completion(stack, page, shot):
    sign_in(page, stack)
    stack.embed_gate.touch()  # hold the workflow at "Generating embeddings"
    try:
        workflow_id = upload_sample(page, "notes")
        card = workflow_card(page, workflow_id)
        expect(card.get_by_test_id("workflow-progress")).to_have_attribute("aria-valuenow", "60")
        expect(card).to_have_attribute("data-phase", "running")
        assert [name for _, name in shown_signals(card)] == UP_TO_EMBEDDING
        shot(page, "document-in-progress")
    finally:
        stack.embed_gate.unlink(missing_ok=True)

    expect(card).to_have_attribute("data-phase", "completed", timeout=60_000)
    expect(card.get_by_test_id("workflow-progress")).to_have_attribute("aria-valuenow", "100")
    expect(card.get_by_test_id("workflow-result")).to_contain_text("chunks")
    shown = shown_signals(card)
    assert [name for _, name in shown] == EVERY_STEP
    assert [seq for seq, _ in shown] == stored_seqs(stack, workflow_id)
    shot(page, "document-completed")


def test_a_document_that_fails_shows_its_error(stack, page, shot):
    sign_in(page, stack)
    workflow_id = upload_sample(page, "blank")
    card = workflow_card(page, workflow_id)
    expect(card).to_have_attribute("data-phase", "failed", timeout=60_000)
    expect(card.get_by_test_id("workflow-error")).to_contain_text("EMPTY_DOCUMENT")
    assert [name for _, name in shown_signals(card)] == ["started", "Extracting text", "failed"]
    shot(page, "document-failed")


def test_marking_a_signal_read_lowers_the_badge_in_a_second_tab(stack, context, shot):
    first, second = context.new_page(), context.new_page()
    sign_in(first, stack)
    sign_in(second, stack)
    before = unread(second)

    workflow_id = f"tabs-{uuid.uuid4()}"
    emit_in_subprocess(
        stack.database_url,
        *[
            {"user_id": str(stack.demo_user), "signal_type": "progress", "workflow_id": workflow_id,
             "data": {"progress": p, "step": f"step {n}"}}
            for n, p in enumerate((0.2, 0.5, 0.8), start=1)
        ],
    )
    expect(badge(first)).to_have_attribute("data-count", str(before + 3))  # live, in both tabs
    expect(badge(second)).to_have_attribute("data-count", str(before + 3))

    item = first.locator('[data-testid="inbox-item"][data-type="progress"][data-read="false"]').filter(
        has_text="step 3"
    )
    signal_id = item.get_attribute("data-id")
    item.get_by_test_id("mark-read").click()
    expect(badge(second)).to_have_attribute("data-count", str(before + 2))
    expect(second.locator(f'[data-testid="inbox-item"][data-id="{signal_id}"]')).to_have_attribute("data-read", "true")
    shot(second, "second-tab-after-mark-read")

    second.get_by_test_id("mark-all-read").click()
    expect(badge(first)).to_have_attribute("data-count", "0")
    expect(first.locator('[data-testid="inbox-item"][data-read="false"]')).to_have_count(0)
    shot(first, "first-tab-after-mark-all-read")


def test_page_reconnects_after_an_api_restart_mid_workflow_and_shows_every_step(stack, page, shot):
    sign_in(page, stack)
    page.evaluate("window.__sameDocument = true")
    stack.embed_gate.touch()
    try:
        workflow_id = upload_sample(page, "notes")
        card = workflow_card(page, workflow_id)
        expect(card.get_by_test_id("workflow-progress")).to_have_attribute("aria-valuenow", "60")
        seen_before = shown_signals(card)
        assert [name for _, name in seen_before] == UP_TO_EMBEDDING

        stack.api.stop()  # graceful: closes every socket with 1001
        expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "reconnecting")
        shot(page, "api-down-reconnecting")
    finally:
        stack.embed_gate.unlink(missing_ok=True)  # the workflow finishes while the API is down

    stored = wait_for_stored(stack, workflow_id, len(EVERY_STEP))
    stack.restart_api()

    expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "connected", timeout=45_000)
    expect(card).to_have_attribute("data-phase", "completed")
    shown = shown_signals(card)
    assert [name for _, name in shown] == EVERY_STEP
    assert [seq for seq, _ in shown] == stored  # every stored signal, in order, no gap, no duplicate
    assert shown[: len(seen_before)] == seen_before
    assert page.evaluate("window.__sameDocument") is True  # resumed in place, not by reloading
    shot(page, "api-restarted-caught-up")


def test_connection_state_shows_offline_and_recovers(stack, context, page, shot):
    sign_in(page, stack)
    context.set_offline(True)
    expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "offline")
    expect(page.get_by_test_id("connection-state")).to_contain_text("Offline")
    shot(page, "offline")
    context.set_offline(False)
    expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "connected")


def test_an_expired_pasted_token_is_reported_not_retried_forever(stack, page, shot):
    expired = mint_user_token(SECRET, stack.demo_user, ttl_seconds=-120)
    sockets = []
    page.on("websocket", lambda socket: sockets.append(socket))
    page.goto(f"{stack.url}/")
    page.get_by_test_id("token-input").fill(expired)
    page.get_by_role("button", name="Use this token").click()
    expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "unauthorized")
    expect(page.get_by_test_id("connection-state")).to_contain_text("Token refused")
    page.wait_for_timeout(3000)  # longer than the first back-off delays
    assert len(sockets) == 1  # a pasted token cannot be refreshed: no second attempt with it
    shot(page, "token-refused")


def test_read_state_reaches_another_browser_through_the_server(stack, browser):
    """Two browser profiles share no BroadcastChannel: the server's inbox frame carries the change."""
    contexts = [browser.new_context(), browser.new_context()]
    try:
        here, elsewhere = (ctx.new_page() for ctx in contexts)
        sign_in(here, stack)
        sign_in(elsewhere, stack)
        before = unread(elsewhere)
        [emitted] = emit_in_subprocess(
            stack.database_url,
            {"user_id": str(stack.demo_user), "signal_type": "status_update",
             "workflow_id": f"devices-{uuid.uuid4()}", "data": {"status": "queued", "message": "waiting in line"}},
        )
        expect(badge(elsewhere)).to_have_attribute("data-count", str(before + 1))
        here.locator(f'[data-testid="inbox-item"][data-id="{emitted["id"]}"]').get_by_test_id("mark-read").click()
        expect(badge(elsewhere)).to_have_attribute("data-count", str(before))
        expect(elsewhere.locator(f'[data-testid="inbox-item"][data-id="{emitted["id"]}"]')).to_have_attribute(
            "data-read", "true"
        )
    finally:
        for ctx in contexts:
            ctx.close()


def test_inbox_filters_and_pages_through_older_signals(stack, page, shot):
    workflow_id = f"filters-{uuid.uuid4()}"
    emit_in_subprocess(
        stack.database_url,
        *[
            {"user_id": str(stack.demo_user), "signal_type": "progress", "workflow_id": workflow_id,
             "data": {"progress": n / 30, "step": f"part {n}"}}
            for n in range(1, 25)
        ],
        {"user_id": str(stack.demo_user), "signal_type": "error", "workflow_id": workflow_id,
         "data": {"error": "disk full", "error_code": "NO_SPACE"}},
    )
    sign_in(page, stack)
    items = page.get_by_test_id("inbox-item")
    page.get_by_test_id("filter-workflow").fill(workflow_id)
    expect(items).to_have_count(20)  # one page
    page.get_by_test_id("load-more").click()
    expect(items).to_have_count(25)  # the next page, by cursor
    expect(page.get_by_test_id("load-more")).to_have_count(0)

    page.get_by_test_id("filter-type").select_option("error")
    expect(items).to_have_count(1)
    expect(items.first).to_contain_text("disk full (NO_SPACE)")
    shot(page, "inbox-filtered")

    items.first.get_by_test_id("mark-read").click()
    page.get_by_test_id("inbox-tab-unread").click()
    expect(items).to_have_count(0)
    page.get_by_test_id("inbox-tab-all").click()
    expect(items).to_have_count(1)
    expect(items.first).to_have_attribute("data-read", "true")


def test_an_expiring_demo_session_is_renewed_and_stays_live(database_url, artifacts, built_page, page, tmp_path):
    """The server closes the socket with 4401 when the token expires; the page gets a new one and carries on."""
    demo_user = uuid.uuid4()
    (tmp_path / "demo-user").write_text(f"{demo_user}\n")
    port = free_port()
    api = ApiProcess(
        database_url, artifacts, port=port,
        SIGNALHUB_DEV_LOGIN="true", SIGNALHUB_DEV_TOKEN_TTL="6", SIGNALHUB_DATA_DIR=str(tmp_path),
        WEBSOCKET_CORS_ORIGINS=f"http://127.0.0.1:{port}",
        SIGNALHUB_JWT_LEEWAY="0",  # sockets close at exp + leeway; no leeway keeps the test short
    ).start()
    try:
        sessions, sockets = [], []
        page.on("request", lambda r: sessions.append(r.url) if r.url.endswith("/api/v1/dev/session") else None)
        page.on("websocket", lambda socket: sockets.append(socket))
        page.goto(f"{api.base}/")
        page.get_by_test_id("demo-sign-in").click()
        state = page.get_by_test_id("connection-state")
        expect(state).to_have_attribute("data-state", "connected")
        deadline = time.monotonic() + 30
        while len(sessions) < 2 and time.monotonic() < deadline:  # the token expires after 6 s
            page.wait_for_timeout(200)
        assert len(sessions) >= 2, "the page did not ask for a new token after the old one expired"
        expect(state).to_have_attribute("data-state", "connected")
        assert len(sockets) >= 2

        emit_in_subprocess(
            database_url,
            {"user_id": str(demo_user), "signal_type": "completion", "workflow_id": f"renewed-{uuid.uuid4()}",
             "data": {"message": "still live after a new token"}},
        )
        expect(page.get_by_test_id("inbox-item").filter(has_text="still live after a new token")).to_have_count(1)
    finally:
        api.stop()
