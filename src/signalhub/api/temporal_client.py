"""The API's Temporal client, for the routes that start or signal workflows
(document upload, approval answers). Connected on first use and then shared:
the API starts and serves without Temporal; only those routes need it, and
they answer 503 while it is unreachable."""

from __future__ import annotations

import asyncio
import logging

from fastapi import HTTPException, Request, status
from temporalio.client import Client

log = logging.getLogger(__name__)

#: Seconds a route waits for Temporal before answering 503.
TEMPORAL_CONNECT_TIMEOUT = 5.0


async def temporal_client(request: Request, unavailable: str = "nothing was started") -> Client:
    """The app's client; 503 (`Temporal is unreachable at …; <unavailable>`) when it cannot connect."""
    state = request.app.state
    if getattr(state, "temporal_client", None) is not None:
        return state.temporal_client
    settings = state.settings
    address = settings.temporal_address
    if getattr(state, "temporal_lock", None) is None:
        state.temporal_lock = asyncio.Lock()
    async with state.temporal_lock:
        if getattr(state, "temporal_client", None) is None:
            try:
                state.temporal_client = await asyncio.wait_for(
                    Client.connect(address, namespace=settings.temporal_namespace), TEMPORAL_CONNECT_TIMEOUT
                )
            except Exception as exc:
                log.warning("Temporal unreachable at %s: %s", address, exc)
                raise HTTPException(
                    status.HTTP_503_SERVICE_UNAVAILABLE,
                    detail=f"Temporal is unreachable at {address}; {unavailable}. Try again later.",
                ) from None
    return state.temporal_client
