"""`GET /api/v1/dev/session`: one click sign-in for the demo page under `make run`.

Exists only when `SIGNALHUB_DEV_LOGIN=true` (set by `signalhub run`, never by
`signalhub api` on its own), and answers only clients on this machine. It
hands out a short-lived token for the demo user kept in the data directory,
the same user `signalhub run` prints and writes to `.data/env`.
"""

from __future__ import annotations

import ipaddress
import uuid
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel

from ..auth import mint_user_token

router = APIRouter(prefix="/api/v1/dev", tags=["dev"])

# The lifetime is SIGNALHUB_DEV_TOKEN_TTL (default 3600 s): shorter ones let tests watch
# the page renew its token (close 4401, then a new session).


def dev_login_enabled(settings) -> bool:
    return bool(settings.dev_login)


def demo_user_id(data_dir: Path) -> uuid.UUID:
    """The demo user of this data directory (created on first use, like `signalhub run` does)."""
    path = data_dir / "demo-user"
    if path.exists():
        return uuid.UUID(path.read_text().strip())
    data_dir.mkdir(parents=True, exist_ok=True)
    user = uuid.uuid4()
    path.write_text(f"{user}\n")
    return user


def token_ttl(settings) -> int:
    return settings.dev_token_ttl


def _is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class DevSession(BaseModel):
    user_id: uuid.UUID
    token: str
    expires_in: int


@router.get("/session", response_model=DevSession)
async def dev_session(request: Request) -> dict:
    """A token for the demo user (development only; loopback clients only)."""
    if not _is_loopback(request.client.host if request.client else None):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="dev sign-in answers only this machine")
    settings = request.app.state.settings
    user = demo_user_id(settings.data_dir)
    ttl = token_ttl(settings)
    token = mint_user_token(settings.jwt_secret(), user, ttl_seconds=ttl)
    return {"user_id": user, "token": token, "expires_in": ttl}
