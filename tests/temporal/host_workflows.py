"""A host application's own workflow: it reports to its user through signalhub's
activities, registered on the host's own worker (no `signalhub worker`)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from signalhub.temporal.activities import send_completion_signal_activity, send_progress_signal_activity

TIMEOUT = timedelta(seconds=30)


@workflow.defn
class InvoiceExportWorkflow:
    @workflow.run
    async def run(self, user_id: str, invoices: int) -> dict:
        workflow_id = workflow.info().workflow_id
        for done in range(1, invoices + 1):
            await workflow.execute_activity(
                send_progress_signal_activity,
                args=[user_id, workflow_id, done / invoices, f"Exported invoice {done} of {invoices}"],
                start_to_close_timeout=TIMEOUT,
            )
        result = {"exported": invoices}
        await workflow.execute_activity(
            send_completion_signal_activity,
            args=[user_id, workflow_id, result, "Export finished"],
            start_to_close_timeout=TIMEOUT,
        )
        return result
