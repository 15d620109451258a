"""Progress from inside one long-running activity, without an activity per update.

    @activity.defn
    async def ingest(self, job: Job) -> int:
        async with progress_reporter(job.user_id, emitter=self.signals) as report:
            start = (report.resumed.details or 0) if report.resumed else 0   # a retry resumes here
            for i in range(start, len(job.files)):
                await download(job.files[i])
                report((i + 1) / len(job.files), "Downloading", details=i + 1)

`report(progress, step, message, details=…)` returns at once; a background
task sends `progress` signals through `emitter`, the worker's `SignalService`.

Guarantees:
- coalesced: at most one signal per `interval` seconds; the first report is
  sent at once, later ones wait for the interval, and the newest value always
  wins — on leaving the block the last reported value is sent (unless the
  block was cancelled);
- never backwards: a report below what the user was already shown for this
  workflow is not sent. The floor is the workflow's newest stored `progress`
  signal, read from the database when the block starts (so it holds after
  any retry, even one whose worker process died), raised by every report
  sent. Each report is also recorded as the activity's heartbeat details,
  so a retried attempt can continue from the last progress
  (`report.resumed`, with the activity's own `details`) instead of zero;
- no duplicates across retries: each signal's idempotency key is the workflow
  run, the activity and the reported value, so an attempt that sends what an
  earlier attempt already sent stores and delivers nothing new;
- best effort: a failed send is logged and retried with the next tick; it
  never fails the activity. Bad input to `report` raises `SignalError` at once.
  (Reading the floor when the block starts is not best effort: if the
  database cannot be read, the block raises and Temporal retries the activity.)

`span=(0.35, 0.6)` maps the activity's own 0..1 onto that part of the
workflow's progress, so progress the workflow sends around the activity
(`notify.progress`) and progress from inside it rise together. Keeping the
spans of successive activities in order is the workflow author's part.

The activity's heartbeat is this reporter's: an activity that also calls
`activity.heartbeat` itself replaces the checkpoint (pass its data as
`details=` instead). With `heartbeat_timeout` set on the activity, report at
least that often (or the activity times out, as with any heartbeat).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from temporalio import activity

from ..service import SignalService
from ..signals import SignalError, parse_user_id, validate_signal
from ..store import InboxFilter

log = logging.getLogger(__name__)

HEARTBEAT_KEY = "signalhub_progress"
#: How long leaving the block may wait for the last value to be stored.
FINAL_SEND_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class ProgressCheckpoint:
    """One report: the activity's own progress (0..1, before `span`), its text and resume data."""

    progress: float
    step: str | None = None
    message: str | None = None
    details: Any = None

    def heartbeat(self) -> dict[str, Any]:
        return {HEARTBEAT_KEY: self.progress, "step": self.step, "message": self.message, "details": self.details}

    @classmethod
    def from_heartbeat(cls, details: Any) -> ProgressCheckpoint | None:
        """The checkpoint among an attempt's heartbeat details, if this reporter wrote one."""
        for item in details or ():
            if not isinstance(item, dict):
                continue
            value = item.get(HEARTBEAT_KEY)
            if isinstance(value, int | float) and not isinstance(value, bool) and 0.0 <= value <= 1.0:
                step, message = item.get("step"), item.get("message")
                return cls(
                    float(value),
                    step if isinstance(step, str) else None,
                    message if isinstance(message, str) else None,
                    item.get("details"),
                )
        return None


def _check_fraction(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise SignalError(f"{name} must be a number between 0 and 1, got {value!r}")
    if not 0.0 <= value <= 1.0:
        raise SignalError(f"{name} must be between 0 and 1, got {value!r}")
    return float(value)


class ProgressReporter:
    """Callable handed out by `progress_reporter`; see the module docstring."""

    def __init__(
        self,
        emitter: SignalService,
        user_id: str,
        workflow_id: str,
        *,
        interval: float,
        span: tuple[float, float],
        key_prefix: str | None,
        resumed: ProgressCheckpoint | None,
        shown_before: float | None = None,
    ) -> None:
        self._emitter = emitter
        self._user_id = user_id
        self._workflow_id = workflow_id
        self._interval = interval
        self._low, self._high_end = span
        self._key_prefix = key_prefix
        #: The checkpoint of an earlier attempt of this activity (None on the first attempt).
        self.resumed = resumed
        self._highest = resumed  # highest report so far: the heartbeat's checkpoint
        # Never show less than the workflow's newest stored progress or the checkpoint.
        self._floor = max(shown_before or 0.0, self._shown(resumed.progress) if resumed else 0.0)
        self._pending: dict[str, Any] | None = None
        self._last_sent: dict[str, Any] | None = None
        self._wake = asyncio.Event()
        self._closing = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def __call__(
        self, progress: float, step: str | None = None, message: str | None = None, *, details: Any = None
    ) -> None:
        """Record a report; it is sent by the background task (coalesced, never backwards)."""
        if self._closing.is_set():
            raise RuntimeError("progress reported after its `progress_reporter` block ended")
        value = _check_fraction(progress, "progress")
        checkpoint = ProgressCheckpoint(value, step, message, details)
        data = self._data(checkpoint)
        validate_signal("progress", self._workflow_id, data)  # bad text fails here, not later
        if data["progress"] < self._floor:
            # Not shown (it would go backwards); the resume data is still kept.
            highest = self._highest or ProgressCheckpoint(0.0)
            self._heartbeat(ProgressCheckpoint(highest.progress, highest.step, highest.message, details))
            return
        self._floor = data["progress"]
        self._highest = checkpoint
        self._heartbeat(checkpoint)
        self._pending = data
        self._wake.set()

    def _shown(self, progress: float) -> float:
        """The activity's own progress as the workflow's (mapped into `span`)."""
        return round(self._low + progress * (self._high_end - self._low), 6)

    def _data(self, checkpoint: ProgressCheckpoint) -> dict[str, Any]:
        message = checkpoint.message if checkpoint.message is not None else checkpoint.step
        return {"progress": self._shown(checkpoint.progress), "step": checkpoint.step, "message": message}

    @staticmethod
    def _heartbeat(checkpoint: ProgressCheckpoint) -> None:
        if activity.in_activity():
            activity.heartbeat(checkpoint.heartbeat())

    def _key(self, data: dict[str, Any]) -> str | None:
        if self._key_prefix is None:
            return None
        digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:32]
        return f"{self._key_prefix}:progress:{digest}"

    async def _send_pending(self) -> bool:
        """Send the newest report unless it was the last one sent; False when the send failed."""
        data = self._pending
        if data is None or data == self._last_sent:
            self._pending = None
            return True
        try:
            await self._emitter.emit(
                self._user_id, "progress", self._workflow_id, data, idempotency_key=self._key(data)
            )
        except Exception as exc:  # the database or broker: the next tick tries again
            log.warning("progress %s for workflow %s not sent yet: %s", data["progress"], self._workflow_id, exc)
            return False
        self._last_sent = data
        if self._pending is data:
            self._pending = None
        return True

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            sent = await self._send_pending()
            if self._closing.is_set():
                if self._pending is None or not sent:
                    return
                continue
            with contextlib.suppress(TimeoutError):
                # Throttle; leaving the block ends the wait so the last value goes out at once.
                await asyncio.wait_for(self._closing.wait(), self._interval)
            if not sent and self._pending is not None:
                self._wake.set()

    def _start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="signalhub-progress")

    async def _finish(self, cancelled: bool) -> None:
        assert self._task is not None
        if cancelled:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            return
        self._closing.set()
        self._wake.set()
        try:
            await asyncio.wait_for(self._task, FINAL_SEND_TIMEOUT)
        except TimeoutError:
            log.warning("last progress for workflow %s not sent within %ss", self._workflow_id, FINAL_SEND_TIMEOUT)


@contextlib.asynccontextmanager
async def progress_reporter(
    user_id: str | uuid.UUID,
    *,
    emitter: SignalService,
    interval: float = 1.0,
    span: tuple[float, float] = (0.0, 1.0),
    workflow_id: str | None = None,
) -> AsyncIterator[ProgressReporter]:
    """Report progress of the running activity to `user_id`; see the module docstring.

    Outside an activity (a script, a test) `workflow_id` is required, and
    there is no heartbeat and no idempotency key.
    """
    user = str(parse_user_id(user_id))
    if isinstance(interval, bool) or not isinstance(interval, int | float) or not 0 < interval < math.inf:
        raise ValueError(f"interval must be a positive number of seconds, got {interval!r}")
    low, high = (_check_fraction(v, "span") for v in span)
    if low > high:
        raise ValueError(f"span must rise, got {span!r}")
    resumed = key_prefix = None
    if activity.in_activity():
        info = activity.info()
        workflow_id = workflow_id or info.workflow_id
        key_prefix = f"{info.workflow_run_id or info.activity_run_id}:{info.activity_id}"
        resumed = ProgressCheckpoint.from_heartbeat(info.heartbeat_details)
    if not workflow_id:
        raise ValueError("workflow_id is required outside a Temporal activity")
    newest = await emitter.store.page(
        uuid.UUID(user), limit=1, where=InboxFilter(signal_type="progress", workflow_id=workflow_id)
    )
    shown_before = newest.signals[0].data.get("progress") if newest.signals else None
    reporter = ProgressReporter(
        emitter,
        user,
        workflow_id,
        interval=float(interval),
        span=(low, high),
        key_prefix=key_prefix,
        resumed=resumed,
        shown_before=shown_before if isinstance(shown_before, int | float) else None,
    )
    reporter._start()
    try:
        yield reporter
    except asyncio.CancelledError:
        await reporter._finish(cancelled=True)
        raise
    except BaseException:
        await reporter._finish(cancelled=False)
        raise
    await reporter._finish(cancelled=False)
