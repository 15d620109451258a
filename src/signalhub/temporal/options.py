"""Activity options shared by everything that schedules signalhub's signal activities.

Defined once here and used by `notify`, the lifecycle interceptor and the
document workflow, so a change of timeouts or retries changes them all.
Pure data: safe to import inside the workflow sandbox.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TypedDict

from temporalio.common import RetryPolicy


class ActivityOptions(TypedDict, total=False):
    """Keyword arguments for `workflow.execute_activity` (type-checked when unpacked with `**`)."""

    task_queue: str
    start_to_close_timeout: timedelta
    schedule_to_close_timeout: timedelta
    heartbeat_timeout: timedelta
    retry_policy: RetryPolicy


#: A signal must survive a short database or broker outage, so its activity retries for
#: up to ten minutes, quickly at first; a retry never delivers it twice (idempotency key).
#: Bad input fails with a non-retryable `INVALID_SIGNAL` error and is not retried at all.
SIGNAL_ACTIVITY_OPTIONS: ActivityOptions = {
    "start_to_close_timeout": timedelta(seconds=30),
    "schedule_to_close_timeout": timedelta(minutes=10),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(milliseconds=500),
        maximum_interval=timedelta(seconds=10),
    ),
}
