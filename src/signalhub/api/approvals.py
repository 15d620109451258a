"""Approvals (the demo of a custom signal answered through a Temporal Signal).

`POST /api/v1/approvals` `{"question"}` starts `ApprovalWorkflow` for the
token's user (202 `{"workflow_id"}`); it sends them an `approval_needed`
signal. `POST /api/v1/approvals/{workflow_id}/decision`
`{"decision":"approve"|"reject","comment"?}` sends the Temporal Signal
`decide` into that workflow (202); the workflow answers with `completion`.
Another user's approval, or one already decided and closed, is a 404.
"""

from __future__ import annotations

import logging
import uuid
from typing import Literal

from fastapi import APIRouter, HTTPException, Path, Request, status
from pydantic import BaseModel, Field

from .deps import CurrentUser
from .temporal_client import temporal_client

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/approvals", tags=["approvals (demo)"])

APPROVAL_TIMEOUT_SECONDS = 3600.0


class ApprovalStart(BaseModel):
    question: str = Field(min_length=1, max_length=500, pattern=r"^[^\x00]*$")


class ApprovalStarted(BaseModel):
    workflow_id: str


class DecisionBody(BaseModel):
    decision: Literal["approve", "reject"]
    comment: str = Field(default="", max_length=500, pattern=r"^[^\x00]*$")


class DecisionSent(BaseModel):
    workflow_id: str
    decision: str


def _owned_prefix(user: uuid.UUID) -> str:
    # The owner is part of the id, so a decision is checked without asking Temporal.
    return f"approval-{user}-"


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=ApprovalStarted)
async def start_approval(body: ApprovalStart, request: Request, user: CurrentUser) -> dict:
    """Ask yourself a question through a workflow: an `approval_needed` signal follows."""
    from ..temporal.approval import ApprovalRequest, ApprovalWorkflow

    client = await temporal_client(request, "the answer was not delivered")
    workflow_id = f"{_owned_prefix(user)}{uuid.uuid4().hex[:12]}"
    try:
        await client.start_workflow(
            ApprovalWorkflow.run,
            ApprovalRequest(str(user), body.question, APPROVAL_TIMEOUT_SECONDS),
            id=workflow_id,
            task_queue=request.app.state.settings.temporal_task_queue,
        )
    except Exception as exc:
        request.app.state.temporal_client = None
        log.warning("starting %s failed: %s", workflow_id, exc)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="Temporal did not accept the workflow; try again later.") from None
    return {"workflow_id": workflow_id}


@router.post("/{workflow_id}/decision", status_code=status.HTTP_202_ACCEPTED, response_model=DecisionSent)
async def decide(
    body: DecisionBody,
    request: Request,
    user: CurrentUser,
    workflow_id: str = Path(max_length=100, pattern=r"^approval-[0-9a-f-]+$"),
) -> dict:
    """Answer an approval request: a Temporal Signal into its workflow."""
    from temporalio.service import RPCError, RPCStatusCode

    from ..temporal.approval import ApprovalWorkflow, Decision

    if not workflow_id.startswith(_owned_prefix(user)):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="approval not found")
    client = await temporal_client(request, "the answer was not delivered")
    try:
        await client.get_workflow_handle(workflow_id).signal(ApprovalWorkflow.decide, Decision(body.decision, body.comment))
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="approval not found or already closed") from None
        request.app.state.temporal_client = None
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="Temporal did not take the decision; try again.") from None
    return {"workflow_id": workflow_id, "decision": body.decision}
