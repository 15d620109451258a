"""X-Forwarded-* is believed only from the proxies in FORWARDED_ALLOW_IPS.

Behind nginx or Caddy the client address arrives in X-Forwarded-For; from
anywhere else that header is a lie anyone can tell, so it must be ignored.
"""

from __future__ import annotations

import httpx
import pytest

from tests.support import ApiProcess

SPOOFED = "203.0.113.7"


@pytest.mark.parametrize("trusted", [True, False])
async def test_forwarded_client_address_is_used_only_from_a_trusted_proxy(database_url, tmp_path, trusted):
    server = ApiProcess(database_url, tmp_path, FORWARDED_ALLOW_IPS="127.0.0.1" if trusted else "10.9.8.7").start()
    try:
        async with httpx.AsyncClient(base_url=server.base, timeout=10) as http:
            response = await http.get("/healthz", headers={"X-Forwarded-For": SPOOFED, "X-Forwarded-Proto": "https"})
            assert response.status_code == 200
    finally:
        server.stop()
    healthz_lines = [line for line in server.log().splitlines() if '"GET /healthz HTTP/1.1" 200' in line]
    assert healthz_lines  # not vacuous
    assert any(SPOOFED in line for line in healthz_lines) is trusted
