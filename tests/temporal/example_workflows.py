"""Workflows that exist only for tests; the test worker registers them via SIGNALHUB_WORKER_IMPORTS."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from signalhub.temporal.activities import (
        send_completion_signal_activity,
        send_error_signal_activity,
        send_progress_signal_activity,
        send_status_update_activity,
        send_workflow_signal_activity,
    )

TIMEOUT = timedelta(seconds=30)


@dataclass
class Greeting:
    user_id: str
    name: str
    refuse: bool = False


@workflow.defn
class GreetingWorkflow:
    """No signal code at all: the lifecycle interceptor reports it (user id in the input)."""

    @workflow.run
    async def run(self, greeting: Greeting) -> dict:
        if greeting.refuse:
            raise ApplicationError(f"{greeting.name} may not be greeted", type="GREETING_REFUSED")
        return {"greeting": f"Hello, {greeting.name}!"}


@workflow.defn
class PlainWorkflow:
    """Takes no user id in its arguments: reported only when started with memo {"user_id": …}."""

    @workflow.run
    async def run(self, name: str) -> str:
        return name.upper()


@workflow.defn
class SeedSignalsWorkflow:
    """Calls the five signal activities exactly as the seed's examples do."""

    signalhub_lifecycle_signals = False

    @workflow.run
    async def run(self, user_id: str) -> None:
        workflow_id = workflow.info().workflow_id
        calls = [
            (send_status_update_activity, [user_id, workflow_id, "started", "Document processing started"]),
            (send_progress_signal_activity, [user_id, workflow_id, 0.1, "Downloading document"]),
            (send_workflow_signal_activity, [user_id, workflow_id, "progress",
                                             {"progress": 0.5, "step": "Generating embeddings", "message": "Creating vector embeddings"}]),
            (send_completion_signal_activity, [user_id, workflow_id,
                                               {"status": "completed", "document_id": "doc-123", "text_length": 5000, "chunk_count": 25},
                                               "Processing completed"]),
            (send_error_signal_activity, [user_id, workflow_id, "Failed to extract text from document", "EXTRACTION_ERROR"]),
        ]
        for activity, args in calls:
            await workflow.execute_activity(activity, args=args, start_to_close_timeout=TIMEOUT)
