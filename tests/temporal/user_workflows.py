"""Workflows as a user writes them with `signalhub.temporal.notify` (no pass-through import:
notify must load inside the workflow sandbox on its own)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from signalhub.temporal import notify

with workflow.unsafe.imports_passed_through():
    from signalhub.temporal.activities import SignalEmitter
    from tests.temporal.user_activities import IngestActivities, IngestJob


def signalhub_activities(emitter: SignalEmitter) -> list:
    """`signalhub worker` (SIGNALHUB_WORKER_IMPORTS) registers these, built with its SignalService."""
    return [IngestActivities(emitter).ingest]


@workflow.defn
class ReviewWorkflow:
    """Every notify helper once, in order; returns the seqs the helpers reported."""

    signalhub_lifecycle_signals = False

    @workflow.run
    async def run(self, user_id: str, refuse: bool) -> list[int]:
        sent = [
            await notify.status(user_id, "started", "Review started"),
            await notify.progress(user_id, 0.4, step="Chunking"),
            await notify.signal(user_id, "status_update", {"status": "reviewing", "reviewer": "Zoë"}),
        ]
        if refuse:
            sent.append(await notify.error(user_id, "The reviewer refused", "REFUSED"))
        else:
            sent.append(await notify.completion(user_id, {"approved": True}, "Review finished"))
        return [s["seq"] for s in sent]


@workflow.defn
class BadSignalWorkflow:
    """Calls one notify helper with the given arguments; returns how its activity failed."""

    signalhub_lifecycle_signals = False

    @workflow.run
    async def run(self, user_id: str, helper: str, args: list[Any]) -> dict:
        try:
            await getattr(notify, helper)(user_id, *args)
        except ActivityError as exc:
            cause = exc.cause
            if not isinstance(cause, ApplicationError):
                return {"type": type(cause).__name__}
            return {"type": cause.type, "non_retryable": cause.non_retryable, "message": cause.message}
        return {"type": None}


@workflow.defn
class RemoteNotifyWorkflow:
    """Runs on a worker without signalhub's activities; sends through another task queue."""

    signalhub_lifecycle_signals = False

    @workflow.run
    async def run(self, user_id: str, signals_queue: str) -> int:
        sent = await notify.Notifier(task_queue=signals_queue).progress(user_id, 0.5, "Elsewhere")
        return sent["seq"]


@workflow.defn
class IngestWorkflow:
    """Workflow progress around one long activity that reports its own progress."""

    signalhub_lifecycle_signals = False

    @workflow.run
    async def run(self, job: IngestJob) -> dict:
        await notify.progress(job.user_id, 0.1, "Queued")
        outcome = await workflow.execute_activity_method(
            IngestActivities.ingest,
            job,
            start_to_close_timeout=timedelta(seconds=60),
            heartbeat_timeout=timedelta(seconds=job.heartbeat_timeout) if job.heartbeat_timeout else None,
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100), maximum_attempts=3),
        )
        await notify.completion(job.user_id, outcome, "Ingested")
        return outcome
