"""The inbox: a user's stored signals (the seed's four endpoints, plus filters and a cursor)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field

from ..inbox_state import ACTIONS, Target
from ..parsing import parse_cursor, utc_bound
from ..store import InboxFilter
from ..wire import SIGNAL_TYPE_PATTERN
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
    seen: bool
    seen_at: str | None
    archived: bool
    archived_at: str | None


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
    archived: Annotated[Literal["false", "true", "any"], Query(description="`any`: both")] = "false",
    seen: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict:
    """The user's signals, newest first."""
    since, until = (_query_bound(name, value) for name, value in (("since", since), ("until", until)))
    page = await store.page(
        user,
        limit=limit,
        offset=offset,
        cursor=_query_cursor(cursor),
        where=InboxFilter(signal_type, workflow_id, read, since, until,
                          archived=None if archived == "any" else archived == "true", seen=seen),
    )
    return {
        "signals": [s.to_inbox_dict() for s in page.signals],
        "has_more": page.has_more,
        "next_cursor": page.next_cursor,
    }


def _invalid_query(name: str, message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_ENTITY,
        detail=[{"loc": ["query", name], "msg": message, "type": "value_error"}],
    )


def _query_bound(name: str, value: datetime | None) -> datetime | None:
    """`since`/`until` in UTC; a naive or out-of-range time is a 422 (never an overflow's 500)."""
    if value is None:
        return None
    try:
        return utc_bound(value, name)
    except ValueError as exc:
        raise _invalid_query(name, str(exc)) from None


def _query_cursor(value: str | None) -> int | None:
    if value is None:
        return None
    cursor = parse_cursor(value)
    if cursor is None:  # the route's pattern already refuses these; kept for any other caller
        raise _invalid_query("cursor", "cursor must be ASCII digits (next_cursor of a previous page)")
    return cursor


@router.get("/signals/unread-count", response_model=UnreadCount)
async def unread_count(user: CurrentUser, store: Store) -> dict:
    """How many of the user's signals are unread."""
    return {"unread_count": await store.unread_count(user)}


@router.post("/signals/mark-all-read", response_model=MarkAllRead)
async def mark_all_read(user: CurrentUser, store: Store, service: Service) -> dict:
    """Mark every unread signal of the user read."""
    updated = await store.mark_all_read(user)
    if updated:
        await service.announce_inbox_change(user, ACTIONS["read"].result, Target(all=True))
    return {"updated": updated}


@router.post("/signals/{signal_id}/read", response_model=InboxSignal)
async def mark_read(signal_id: uuid.UUID, user: CurrentUser, store: Store, service: Service) -> dict:
    """Mark one signal read; another user's id is answered as not found."""
    signal = await store.mark_read(user, signal_id)
    if signal is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="signal not found")
    await service.announce_inbox_change(user, ACTIONS["read"].result, Target(ids=(signal.id,)), [signal.id])
    return signal.to_inbox_dict()
