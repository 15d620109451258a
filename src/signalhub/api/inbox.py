"""The inbox: a user's stored signals (the seed's four endpoints, plus filters and a cursor)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field

from ..signals import SIGNAL_TYPE_PATTERN
from ..store import InboxFilter
from .deps import CurrentUser, Service, Store

router = APIRouter(prefix="/api/v1/inbox", tags=["inbox"])


class InboxSignal(BaseModel):
    id: uuid.UUID
    seq: int
    signal_type: str
    workflow_id: str
    data: dict[str, Any]
    timestamp: str
    read: bool
    read_at: str | None


class SignalList(BaseModel):
    signals: list[InboxSignal]
    has_more: bool
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next (older) page")


class UnreadCount(BaseModel):
    unread_count: int


class MarkAllRead(BaseModel):
    updated: int


@router.get("/signals", response_model=SignalList)
async def list_signals(
    user: CurrentUser,
    store: Store,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$", description="next_cursor of the previous page")] = None,
    signal_type: Annotated[str | None, Query(pattern=SIGNAL_TYPE_PATTERN, description="A seed or custom type")] = None,
    workflow_id: Annotated[str | None, Query(max_length=255, pattern=r"^[^\x00]*$")] = None,  # PostgreSQL text has no NUL
    read: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict:
    """The user's signals, newest first."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_ENTITY,
                detail=[{"loc": ["query", name], "msg": "timestamp needs a time zone (e.g. Z)", "type": "value_error"}],
            )
    page = await store.page(
        user,
        limit=limit,
        offset=offset,
        cursor=int(cursor) if cursor is not None else None,
        where=InboxFilter(signal_type, workflow_id, read, since, until),
    )
    return {
        "signals": [s.to_inbox_dict() for s in page.signals],
        "has_more": page.has_more,
        "next_cursor": page.next_cursor,
    }


@router.get("/signals/unread-count", response_model=UnreadCount)
async def unread_count(user: CurrentUser, store: Store) -> dict:
    """How many of the user's signals are unread."""
    return {"unread_count": await store.unread_count(user)}


@router.post("/signals/mark-all-read", response_model=MarkAllRead)
async def mark_all_read(user: CurrentUser, store: Store, service: Service) -> dict:
    """Mark every unread signal of the user read."""
    updated = await store.mark_all_read(user)
    if updated:
        await service.announce_inbox_change(user)
    return {"updated": updated}


@router.post("/signals/{signal_id}/read", response_model=InboxSignal)
async def mark_read(signal_id: uuid.UUID, user: CurrentUser, store: Store, service: Service) -> dict:
    """Mark one signal read; another user's id is answered as not found."""
    signal = await store.mark_read(user, signal_id)
    if signal is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="signal not found")
    await service.announce_inbox_change(user)
    return signal.to_inbox_dict()
