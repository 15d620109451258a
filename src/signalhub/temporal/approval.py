"""ApprovalWorkflow: a custom signal out to the user, a Temporal Signal back in.

The example of both directions (docs/custom-signals.md):
1. the workflow sends its user an `approval_needed` signal (a custom type)
   `{"question": …, "options": ["approve", "reject"]}`;
2. the user answers on a page; the API turns the answer into the Temporal
   Signal `decide` on this workflow (`POST /api/v1/approvals/{id}/decision`);
3. the workflow sends `completion` `{"result": {"decision": …}}`, or `error`
   `APPROVAL_TIMEOUT` when nobody answered within `timeout_seconds`.

Only the first decision counts; later ones are ignored.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from .activities import send_completion_signal_activity, send_error_signal_activity, send_workflow_signal_activity

APPROVAL_NEEDED = "approval_needed"
OPTIONS = ("approve", "reject")
_PAST = {"approve": "approved", "reject": "rejected"}

_SIGNAL_OPTIONS = dict(
    start_to_close_timeout=timedelta(seconds=30),
    schedule_to_close_timeout=timedelta(minutes=10),
    retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=500), maximum_interval=timedelta(seconds=10)),
)


@dataclass
class ApprovalRequest:
    user_id: str
    question: str
    timeout_seconds: float = 3600.0


@dataclass
class Decision:
    decision: str  # one of OPTIONS
    comment: str = ""


@workflow.defn
class ApprovalWorkflow:
    signalhub_lifecycle_signals = False  # it reports its own steps

    def __init__(self) -> None:
        self.decision: Decision | None = None

    @workflow.signal
    def decide(self, decision: Decision) -> None:
        """The user's answer (a Temporal Signal into this workflow); the first valid one counts."""
        if self.decision is None and decision.decision in OPTIONS:
            self.decision = decision

    @workflow.query
    def current_decision(self) -> str | None:
        return self.decision.decision if self.decision else None

    @workflow.run
    async def run(self, request: ApprovalRequest) -> dict:
        workflow_id = workflow.info().workflow_id
        await workflow.execute_activity(
            send_workflow_signal_activity,
            args=[request.user_id, workflow_id, APPROVAL_NEEDED, {"question": request.question, "options": list(OPTIONS)}],
            **_SIGNAL_OPTIONS,
        )
        try:
            await workflow.wait_condition(lambda: self.decision is not None, timeout=timedelta(seconds=request.timeout_seconds))
        except asyncio.TimeoutError:
            await workflow.execute_activity(
                send_error_signal_activity,
                args=[request.user_id, workflow_id, "Nobody answered the approval request in time", "APPROVAL_TIMEOUT"],
                **_SIGNAL_OPTIONS,
            )
            return {"decision": None}
        assert self.decision is not None
        result = {"decision": self.decision.decision, "comment": self.decision.comment}
        await workflow.execute_activity(
            send_completion_signal_activity,
            args=[request.user_id, workflow_id, result, f"Request {_PAST[self.decision.decision]}"],
            **_SIGNAL_OPTIONS,
        )
        return result
