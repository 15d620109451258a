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

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow

from . import notify

APPROVAL_NEEDED = "approval_needed"
OPTIONS = ("approve", "reject")
_PAST = {"approve": "approved", "reject": "rejected"}

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
        await notify.signal(request.user_id, APPROVAL_NEEDED, {"question": request.question, "options": list(OPTIONS)})
        try:
            await workflow.wait_condition(lambda: self.decision is not None, timeout=timedelta(seconds=request.timeout_seconds))
        except TimeoutError:
            await notify.error(request.user_id, "Nobody answered the approval request in time", "APPROVAL_TIMEOUT")
            return {"decision": None}
        assert self.decision is not None
        result = {"decision": self.decision.decision, "comment": self.decision.comment}
        await notify.completion(request.user_id, result, f"Request {_PAST[self.decision.decision]}")
        return result
