"""Dependencies shared by the routers (`CurrentUser`, `ServiceRole`, `Service`, …).

All are `async def`: FastAPI runs a plain `def` dependency in a worker thread,
a hop per dependency per request that costs more than the work itself.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from ..auth import AuthError, Principal
from ..hub import Hub
from ..service import SignalService
from ..store import SignalStore

if TYPE_CHECKING:
    from ..fastapi import SignalHub
    from ..runtime import Runtime

_bearer = HTTPBearer(auto_error=False, description="A Supabase-style JWT")


def signalhub_of(connection: HTTPConnection) -> SignalHub:
    """The running `SignalHub` of this request or socket (`app.state.signalhub`,
    set by `SignalHub.lifespan`): the one place the routes find their settings,
    store, service and connections, in `signalhub api` and in a host app alike."""
    hub = getattr(connection.app.state, "signalhub", None)
    if hub is None or hub.runtime is None:
        raise RuntimeError(
            "signalhub is not running: enter `hub.lifespan(app)` in the app's lifespan "
            "(FastAPI(lifespan=hub.lifespan), or `async with hub.lifespan(app):` in your own; docs/embedding.md)"
        )
    return hub


def runtime_of(connection: HTTPConnection) -> Runtime:
    """The running hub's pool, store, broker and service (`signalhub_of`)."""
    runtime = signalhub_of(connection).runtime
    assert runtime is not None  # signalhub_of refuses a hub that is not running
    return runtime


def connections_of(connection: HTTPConnection) -> Hub:
    """The running hub's open sockets on this process (`signalhub_of`)."""
    connections = signalhub_of(connection).connections
    assert connections is not None  # set with the runtime, for as long as it runs
    return connections


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise _unauthorized("missing bearer token (Authorization: Bearer <JWT>)")
    try:
        return await signalhub_of(request).verifier.verify_async(credentials.credentials)
    except AuthError as exc:
        raise _unauthorized(str(exc)) from None


async def get_current_user(principal: Annotated[Principal, Depends(get_principal)]) -> uuid.UUID:
    if principal.user_id is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="a user token is required")
    return principal.user_id


async def require_service_role(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if not principal.is_service:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="the service role is required")
    return principal


async def get_store(request: Request) -> SignalStore:
    return runtime_of(request).store


async def get_service(request: Request) -> SignalService:
    return runtime_of(request).service


async def get_hub(request: Request) -> Hub:
    return connections_of(request)


CurrentUser = Annotated[uuid.UUID, Depends(get_current_user)]
ServiceRole = Annotated[Principal, Depends(require_service_role)]
Store = Annotated[SignalStore, Depends(get_store)]
Service = Annotated[SignalService, Depends(get_service)]
HubDep = Annotated[Hub, Depends(get_hub)]
