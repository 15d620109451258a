"""`GET /api/v1/dev/session`: the demo page's one-click sign-in, only when enabled."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from signalhub.api.dev import _is_loopback
from tests.support import ApiProcess


def test_dev_sign_in_does_not_exist_unless_enabled(api):
    response = httpx.get(f"{api.base}/api/v1/dev/session", timeout=10)
    assert response.status_code == 404


def test_dev_sign_in_hands_out_a_working_token_for_the_demo_user(database_url: str, artifacts: Path, tmp_path: Path):
    demo_user = uuid.uuid4()
    (tmp_path / "demo-user").write_text(f"{demo_user}\n")
    api = ApiProcess(database_url, artifacts, SIGNALHUB_DEV_LOGIN="true", SIGNALHUB_DATA_DIR=str(tmp_path)).start()
    try:
        session = httpx.get(f"{api.base}/api/v1/dev/session", timeout=10)
        assert session.status_code == 200
        body = session.json()
        assert body["user_id"] == str(demo_user)
        assert 0 < body["expires_in"] <= 3600
        count = httpx.get(
            f"{api.base}/api/v1/inbox/signals/unread-count",
            headers={"Authorization": f"Bearer {body['token']}"},
            timeout=10,
        )
        assert count.status_code == 200
        assert count.json() == {"unread_count": 0}
    finally:
        api.stop()


def test_dev_sign_in_answers_only_this_machine():
    assert _is_loopback("127.0.0.1") and _is_loopback("::1")
    assert not _is_loopback("192.168.1.20")
    assert not _is_loopback("testclient")
    assert not _is_loopback(None)
