"""`signalhub worker`: one Temporal worker on the task queue `signalhub`.

Registers `DocumentProcessingWorkflow`, the seed's five signal activities and
the document activities, as the seed's `worker/main.py` does. Environment:

- `TEMPORAL_ADDRESS` (default 127.0.0.1:7233), `TEMPORAL_NAMESPACE`, `TEMPORAL_TASK_QUEUE`;
- `SIGNALHUB_LIFECYCLE_SIGNALS=true`: add `LifecycleSignalsInterceptor`;
- `SIGNALHUB_WORKER_IMPORTS=pkg.mod,pkg.other`: also register every workflow
  class and activity function defined in those modules (your own workflows
  on the same worker, with the signal activities at hand);
- `SIGNALHUB_EMBEDDER`: see `signalhub.documents.embedding`.

The worker also deletes signals older than `SIGNALHUB_RETENTION_DAYS` every
`SIGNALHUB_RETENTION_INTERVAL` seconds (see `signalhub.retention`; several
workers may do so at once).

SIGTERM or SIGINT stops polling, lets running activities finish (up to
`GRACEFUL_SHUTDOWN`) and exits 0.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import logging.config
import signal
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Interceptor, Worker

from ..logs import log_config
from ..retention import run_periodically as run_retention
from ..runtime import open_runtime
from ..settings import DEFAULT_TEMPORAL_ADDRESS, Settings
from . import activities
from .interceptors import LifecycleSignalsInterceptor
from .approval import ApprovalWorkflow
from .workflows import DocumentProcessingWorkflow

log = logging.getLogger("signalhub.worker")

GRACEFUL_SHUTDOWN = timedelta(seconds=10)


def temporal_address(settings: Settings) -> str:
    return settings.temporal_address or DEFAULT_TEMPORAL_ADDRESS


async def connect(settings: Settings, *, timeout: float = 30.0) -> Client:
    """Connect to Temporal, retrying while it starts; a clear error after `timeout` seconds."""
    address = temporal_address(settings)
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await Client.connect(address, namespace=settings.temporal_namespace)
        except Exception as exc:
            if asyncio.get_running_loop().time() >= deadline:
                raise SystemExit(
                    f"error: cannot reach Temporal at {address} (namespace {settings.temporal_namespace!r}): {exc}. "
                    "Start it (`signalhub run` does) or set TEMPORAL_ADDRESS."
                ) from None
            await asyncio.sleep(1.0)


def imported_definitions(modules: str | None) -> tuple[list[type], list]:
    """Workflow classes and activity functions defined in the named modules."""
    workflows: list[type] = []
    extra: list = []
    for name in filter(None, (m.strip() for m in (modules or "").split(","))):
        module = importlib.import_module(name)
        for _, value in inspect.getmembers(module):
            if getattr(value, "__module__", None) != module.__name__:
                continue
            if inspect.isclass(value) and hasattr(value, "__temporal_workflow_definition"):
                workflows.append(value)
            elif callable(value) and hasattr(value, "__temporal_activity_definition"):
                extra.append(value)
    return workflows, extra


def build_worker(
    client: Client,
    settings: Settings,
    *,
    lifecycle_signals: bool = False,
    imports: str | None = None,
    interceptors: list[Interceptor] | None = None,
) -> Worker:
    extra_workflows, extra_activities = imported_definitions(imports)
    chosen = list(interceptors or [])
    if lifecycle_signals:
        chosen.append(LifecycleSignalsInterceptor())
    workflows = list(dict.fromkeys([DocumentProcessingWorkflow, ApprovalWorkflow, *extra_workflows]))
    registered = list(
        dict.fromkeys([*activities.SIGNAL_ACTIVITIES, *activities.DOCUMENT_ACTIVITIES, *extra_activities])
    )
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=workflows,
        activities=registered,
        interceptors=chosen,
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
    )


async def main(settings: Settings, *, lifecycle_signals: bool | None = None) -> None:
    """Run the worker until SIGTERM/SIGINT."""
    logging.config.dictConfig(log_config(settings.log_level.upper()))
    if lifecycle_signals is None:
        lifecycle_signals = settings.lifecycle_signals
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async with open_runtime(settings, pool_size=5) as runtime:
        activities.install(runtime)
        client = await connect(settings)
        worker = build_worker(
            client, settings, lifecycle_signals=lifecycle_signals, imports=settings.worker_imports
        )
        retention = asyncio.create_task(run_retention(runtime.store, settings), name="retention")
        try:
            async with worker:
                log.info(
                    "worker polling task queue %r on %s (namespace %s, lifecycle signals %s)",
                    settings.temporal_task_queue, temporal_address(settings),
                    settings.temporal_namespace, "on" if lifecycle_signals else "off",
                )
                await stop.wait()
                log.info("stopping: finishing running activities")
        finally:
            retention.cancel()
            await asyncio.gather(retention, return_exceptions=True)
    log.info("worker stopped")
