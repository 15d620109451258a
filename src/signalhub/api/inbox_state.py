"""Inbox state: counts, PATCH and DELETE of one signal, bulk actions.

Every change that changed something is announced to all of the user's sockets
(`{"type":"inbox",…}` with the new counts and what changed), so other tabs and
devices follow without polling.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

from ..inbox_state import ACTIONS, Target, patch_actions
from ..store_inbox import InboxStateStore
from .deps import CurrentUser, Service, runtime_of
from .inbox import InboxSignal

router = APIRouter(prefix="/api/v1/inbox", tags=["inbox"])

MAX_BULK_IDS = 1000


async def get_inbox_state(request: Request) -> InboxStateStore:
    return InboxStateStore(runtime_of(request).store.pool)


InboxState = Annotated[InboxStateStore, Depends(get_inbox_state)]


def _storable(value: str | None) -> str | None:
    """PostgreSQL text holds neither NUL nor lone surrogates: refuse them as bad input, not a 500."""
    if value is not None:
        if "\x00" in value:
            raise ValueError("must not contain NUL characters")
        try:
            value.encode()
        except UnicodeEncodeError:
            raise ValueError("must be valid Unicode (no lone surrogates)") from None
    return value


class Counts(BaseModel):
    unread: int = Field(description="Unread among non-archived signals")
    unseen: int = Field(description="Not yet seen among non-archived signals (the bell's badge)")
    total: int = Field(description="Non-archived signals")


class SignalPatch(BaseModel):
    """Any of read, seen, archived (at least one). `read: true` also marks the signal seen."""

    model_config = ConfigDict(extra="forbid")
    read: StrictBool | None = None
    seen: StrictBool | None = None
    archived: StrictBool | None = None

    @model_validator(mode="after")
    def _something(self) -> SignalPatch:
        if self.read is None and self.seen is None and self.archived is None:
            raise ValueError("give at least one of read, seen, archived (true or false)")
        return self


class BulkRequest(BaseModel):
    """An action and exactly one target: `ids` (up to 1,000), `workflow_id`, or `all: true`."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["read", "unread", "seen", "archive", "unarchive", "delete"]
    ids: list[uuid.UUID] | None = Field(default=None, max_length=MAX_BULK_IDS)
    workflow_id: str | None = Field(default=None, min_length=1, max_length=255)
    all: Literal[True] | None = None

    _workflow_id_storable = field_validator("workflow_id")(_storable)

    @model_validator(mode="after")
    def _one_target(self) -> BulkRequest:
        if (self.ids is not None) + (self.workflow_id is not None) + (self.all is not None) != 1:
            raise ValueError("give exactly one of ids, workflow_id, all")
        return self

    def target(self) -> Target:
        if self.ids is not None:
            return Target(ids=tuple(dict.fromkeys(self.ids)))
        if self.workflow_id is not None:
            return Target(workflow_id=self.workflow_id)
        return Target(all=True)


class BulkResult(BaseModel):
    updated: int = Field(description="Signals whose state changed (those already so are not counted)")


_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such signal for this user"}}


@router.get("/counts", response_model=Counts)
async def counts(user: CurrentUser, inbox: InboxState) -> dict:
    """Unread, unseen and total among the user's non-archived signals."""
    return (await inbox.counts(user)).to_dict()


@router.patch("/signals/{signal_id}", response_model=InboxSignal, responses=_NOT_FOUND)
async def patch_signal(signal_id: uuid.UUID, body: SignalPatch, user: CurrentUser, inbox: InboxState,
                       service: Service) -> dict:
    """Set read, seen and/or archived of one signal; another user's id is answered as not found."""
    actions = patch_actions(body.read, body.seen, body.archived)
    patched = await inbox.patch(user, signal_id, actions)
    if patched is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="signal not found")
    if patched.changed:
        state: dict[str, bool] = {}
        for action in actions:
            state |= ACTIONS[action].result
        await service.announce_inbox_change(user, state, Target(ids=(signal_id,)), [signal_id])
    return patched.signal.to_inbox_dict()


@router.delete("/signals/{signal_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               responses=_NOT_FOUND)
async def delete_signal(signal_id: uuid.UUID, user: CurrentUser, inbox: InboxState, service: Service) -> Response:
    """Delete one signal for the user: gone from every list, count and resume."""
    if not await inbox.delete(user, signal_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="signal not found")
    await service.announce_inbox_change(user, ACTIONS["delete"].result, Target(ids=(signal_id,)), [signal_id])
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/bulk", response_model=BulkResult)
async def bulk(body: BulkRequest, user: CurrentUser, inbox: InboxState, service: Service) -> dict:
    """Apply one action to many signals; ids of other users' signals are ignored."""
    target = body.target()
    changed = await inbox.apply(user, body.action, target)
    if changed:
        await service.announce_inbox_change(user, ACTIONS[body.action].result, target, changed)
    return {"updated": len(changed)}
