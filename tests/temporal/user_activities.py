"""A user's own activity class that reports progress from inside one long activity."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from temporalio import activity

from signalhub.temporal.activities import SignalEmitter
from signalhub.temporal.progress import progress_reporter

#: Where the activity's own 0..1 lands in the workflow's progress (the workflow reports 0.1 before it).
SPAN = (0.2, 0.9)


@dataclass
class IngestJob:
    user_id: str
    files: int
    fail_first_attempt_after: int | None = None  # files done when attempt 1 dies
    resume: bool = True  # False: a naive retry that starts again from the first file
    interval: float = 30.0
    file_seconds: float = 0.01
    heartbeat_timeout: float | None = None  # seconds


class IngestActivities:
    def __init__(self, signals: SignalEmitter) -> None:
        self.signals = signals

    @activity.defn
    async def ingest(self, job: IngestJob) -> dict:
        attempt = activity.info().attempt
        async with progress_reporter(job.user_id, emitter=self.signals, interval=job.interval, span=SPAN) as report:
            report(0.0, f"Starting attempt {attempt}")  # after a retry this would go back: not shown
            start = (report.resumed.details or 0) if (job.resume and report.resumed) else 0
            for done in range(start + 1, job.files + 1):
                await asyncio.sleep(job.file_seconds)  # the file's real work
                report(done / job.files, f"File {done} of {job.files}", details=done)
                if attempt == 1 and done == job.fail_first_attempt_after:
                    raise RuntimeError("worker lost mid-ingest")
        return {"attempt": attempt, "started_at_file": start + 1}
