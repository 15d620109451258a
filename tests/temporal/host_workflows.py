"""A host application's own workflow: it reports to its user through signalhub's
activities, registered on the host's own worker (no `signalhub worker`).
The same code as docs/temporal-worker.md, step 3."""

from __future__ import annotations

from temporalio import workflow

from signalhub.temporal import notify


@workflow.defn
class InvoiceExportWorkflow:
    @workflow.run
    async def run(self, user_id: str, invoices: int) -> dict:
        for done in range(1, invoices + 1):
            await notify.progress(user_id, done / invoices, f"Exported invoice {done} of {invoices}")
        result = {"exported": invoices}
        await notify.completion(user_id, result, "Export finished")
        return result
