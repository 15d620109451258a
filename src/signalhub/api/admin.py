"""Service-role endpoints (they see and reach every user) and health/metrics."""

from __future__ import annotations

import asyncio
import hmac
import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field, ValidationError

from ..signals import SignalError
from .deps import HubDep, Service, ServiceRole

router = APIRouter(tags=["service"])
# The server's own probes and metrics: `signalhub api` serves them; an app that
# embeds signalhub keeps its own (SignalHub.router leaves them out).
health_router = APIRouter(tags=["health"])


class SendTest(BaseModel):
    user_id: uuid.UUID = Field(description="The user to reach (a UUID, the token's `sub`)")
    message: str = Field(default="Test signal", max_length=1000)


class EmitResponse(BaseModel):
    id: uuid.UUID
    seq: int
    created: bool


class WsStatus(BaseModel):
    total_connections: int
    connected_users: list[str]
    user_connection_counts: dict[str, int]


@router.get("/ws/status", response_model=WsStatus)
async def ws_status(_: ServiceRole, hub: HubDep) -> dict:
    """Connections held by this API instance (service role)."""
    return hub.status()


async def _json_body(request: Request, model: type[BaseModel]) -> Any:
    # Parsed whatever the Content-Type: the seed's `curl -d '{…}'` sends no JSON header.
    raw = await request.body()
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        # Without the input: a non-UTF-8 body echoed back would fail to encode (a 500).
        raise RequestValidationError(exc.errors(include_url=False, include_input=False)) from None


_SEND_TEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": SendTest.model_json_schema()}},
    }
}


@router.post("/ws/send-test", response_model=EmitResponse, openapi_extra=_SEND_TEST_BODY)
async def send_test(request: Request, _: ServiceRole, service: Service) -> dict:
    """Send a test status_update to a user (service role)."""
    body: SendTest = await _json_body(request, SendTest)
    result = await _emit_or_422(service, body.user_id, "status_update", "send-test", {"status": "test", "message": body.message})
    return {"id": result.signal.id, "seq": result.signal.seq, "created": result.created}


async def _emit_or_422(service: Any, *args: Any, **kwargs: Any) -> Any:
    """`service.emit`, with a signal it refuses (e.g. text PostgreSQL cannot store) as a 422."""
    try:
        return await service.emit(*args, **kwargs)
    except SignalError as exc:
        # Same shape as every other 422 (the documented HTTPValidationError).
        detail = [{"loc": ["body"], "msg": str(exc), "type": "value_error"}]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, detail=detail) from None


# -- probes and metrics (docs/security.md, "Health, readiness and metrics") -------------
# On `health_router`: `signalhub api` serves them; an app embedding signalhub keeps its own.


def _signalhub(request: Request) -> Any:
    """The app's `SignalHub` (set before start-up by `create_app`), running or not."""
    return request.app.state.signalhub


def _broker_state(request: Request) -> str:
    runtime = _signalhub(request).runtime
    if runtime is None:
        return "starting"
    return "connected" if runtime.broker.connected else "reconnecting"


@health_router.get("/healthz")
async def healthz(request: Request) -> dict:
    """Liveness: 200 while the process serves (it never asks the database: an outage must not get
    the process restarted); `broker` says whether the live subscription is connected."""
    return {"status": "ok", "broker": _broker_state(request)}


#: Seconds within which a successful query of the pool counts as "the database answers" for
#: readiness, without asking it again (a readiness query would wait in the pool's queue).
READY_FROM_QUERIES_WITHIN = 1.0


@health_router.get("/readyz", responses={503: {"description": "Not ready: database or broker down, or shutting down"}})
async def readyz(request: Request, response: Response) -> dict:
    """Readiness: 200 when this instance can serve (database answers, broker connected, not shutting down).

    The database answers when one of the pool's queries succeeded in the last
    `READY_FROM_QUERIES_WITHIN` seconds and none failed since; otherwise it is
    asked (`SELECT 1`, within SIGNALHUB_READINESS_TIMEOUT)."""
    hub = _signalhub(request)
    checks = {"database": "ok", "broker": _broker_state(request), "shutdown": "no"}
    if hub.draining:
        checks["shutdown"] = "in progress"
    runtime = hub.runtime
    if runtime is None:
        checks["database"] = "starting"
    elif runtime.database_outcomes is None or not runtime.database_outcomes.serving(READY_FROM_QUERIES_WITHIN):
        # No pooled query succeeded just now (a busy pool's do: faults.QueryOutcomes): ask the database.
        try:
            async with asyncio.timeout(hub.settings.readiness_timeout):
                await runtime.store.pool.fetchval("SELECT 1")
        except Exception as exc:  # any failure means "not ready"; the reason is in the answer
            checks["database"] = f"unavailable ({type(exc).__name__})"
    ready = checks["database"] == "ok" and checks["broker"] == "connected" and checks["shutdown"] == "no"
    if not ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        response.headers["Retry-After"] = "2"
    return {"status": "ready" if ready else "not ready", **checks}


@health_router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus metrics; with SIGNALHUB_METRICS_TOKEN set, only for `Authorization: Bearer <it>`."""
    expected = _signalhub(request).settings.metrics_token
    if expected is not None and expected.get_secret_value():
        given = request.headers.get("authorization", "")
        wanted = f"Bearer {expected.get_secret_value()}"
        if not hmac.compare_digest(given.encode(), wanted.encode()):
            return Response(
                '{"detail":"metrics need Authorization: Bearer <SIGNALHUB_METRICS_TOKEN>"}',
                status_code=status.HTTP_401_UNAUTHORIZED,
                media_type="application/json",
                headers={"WWW-Authenticate": "Bearer"},
            )
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
