"""Dependencies shared by the routers (`CurrentUser`, `ServiceRole`, `Service`, …)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..auth import AuthError, Principal, TokenVerifier
from ..hub import Hub
from ..service import SignalService
from ..store import SignalStore

_bearer = HTTPBearer(auto_error=False, description="A Supabase-style JWT")


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


def get_verifier(request: Request) -> TokenVerifier:
    return request.app.state.verifier


def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise _unauthorized("missing bearer token (Authorization: Bearer <JWT>)")
    try:
        return get_verifier(request).verify(credentials.credentials)
    except AuthError as exc:
        raise _unauthorized(str(exc)) from None


def get_current_user(principal: Annotated[Principal, Depends(get_principal)]) -> uuid.UUID:
    if principal.user_id is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="a user token is required")
    return principal.user_id


def require_service_role(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if not principal.is_service:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="the service role is required")
    return principal


def get_store(request: Request) -> SignalStore:
    return request.app.state.runtime.store


def get_service(request: Request) -> SignalService:
    return request.app.state.runtime.service


def get_hub(request: Request) -> Hub:
    return request.app.state.hub


CurrentUser = Annotated[uuid.UUID, Depends(get_current_user)]
ServiceRole = Annotated[Principal, Depends(require_service_role)]
Store = Annotated[SignalStore, Depends(get_store)]
Service = Annotated[SignalService, Depends(get_service)]
HubDep = Annotated[Hub, Depends(get_hub)]
