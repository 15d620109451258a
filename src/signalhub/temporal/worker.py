"""`signalhub worker`: one Temporal worker on the task queue `signalhub`.

Registers `DocumentProcessingWorkflow`, the seed's five signal activities
(`SignalActivities`) and the document activities (`DocumentActivities`), as
the seed's `worker/main.py` does, all built on one runtime (database pool,
broker, `SignalService`). Environment:

- `TEMPORAL_ADDRESS` (default 127.0.0.1:7233), `TEMPORAL_NAMESPACE`, `TEMPORAL_TASK_QUEUE`;
- `SIGNALHUB_LIFECYCLE_SIGNALS=true`: add `LifecycleSignalsInterceptor`;
- `SIGNALHUB_WORKER_IMPORTS=pkg.mod,pkg.other`: also register every workflow
  class and activity function defined in those modules (your own workflows
  on the same worker, with the signal activities at hand), and the
  activities a module's `signalhub_activities(emitter)` returns (activity
  classes that need the worker's `SignalService`, e.g. for `progress_reporter`);
- `SIGNALHUB_EMBEDDER`: see `signalhub.documents.embedding`;
- `SIGNALHUB_TEST_FAIL_AFTER_STORE=name[,…]|*`: tests and drills only, see
  `SignalActivities`.

All of them (and `LOG_LEVEL`) are fields of `signalhub.settings.Settings`, read
once with the rest; `WorkerOptions.from_settings` picks out the worker's own.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import Interceptor, Worker

from ..documents.activities import DocumentActivities
from ..documents.embedding import load_embedder
from ..documents.storage import DocumentStore
from ..documents.workflows import DocumentProcessingWorkflow
from ..heap import freeze_startup_objects
from ..logs import log_config
from ..retention import run_periodically as run_retention
from ..runtime import Runtime, open_runtime
from ..settings import DEFAULT_TEMPORAL_ADDRESS, Settings
from .activities import SignalActivities, SignalEmitter
from .approval import ApprovalWorkflow
from .interceptors import LifecycleSignalsInterceptor

log = logging.getLogger("signalhub.worker")

GRACEFUL_SHUTDOWN = timedelta(seconds=10)


class TemporalUnavailable(RuntimeError):
    """Temporal could not be reached in time; the message says where and what to do."""


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
                raise TemporalUnavailable(
                    f"cannot reach Temporal at {address} (namespace {settings.temporal_namespace!r}): {exc}. "
                    "Start it (`signalhub run` does) or set TEMPORAL_ADDRESS."
                ) from None
            await asyncio.sleep(1.0)


#: A module named in SIGNALHUB_WORKER_IMPORTS may define `signalhub_activities(emitter)`
#: returning activities (e.g. the bound methods of a class built with the emitter).
ACTIVITY_FACTORY = "signalhub_activities"


def imported_definitions(
    modules: str | None, emitter: SignalEmitter | None = None
) -> tuple[list[type], list[Callable[..., Any]]]:
    """Workflow classes and activity functions defined in the named modules, and the
    activities their `signalhub_activities(emitter)` returns (when an emitter is given)."""
    workflows: list[type] = []
    extra: list[Callable[..., Any]] = []
    for name in filter(None, (m.strip() for m in (modules or "").split(","))):
        module = importlib.import_module(name)
        for _, value in inspect.getmembers(module):
            if getattr(value, "__module__", None) != module.__name__:
                continue
            if inspect.isclass(value) and hasattr(value, "__temporal_workflow_definition"):
                workflows.append(value)
            elif callable(value) and hasattr(value, "__temporal_activity_definition"):
                extra.append(value)
        factory = getattr(module, ACTIVITY_FACTORY, None)
        if emitter is not None and callable(factory):
            extra.extend(factory(emitter))
    return workflows, extra


@dataclass(frozen=True)
class WorkerOptions:
    """What the worker builds itself from, beyond the connections: taken from `Settings`
    (see the module docstring for the variables), or given directly by tests and embedders."""

    lifecycle_signals: bool = False
    imports: str | None = None
    embedder: str | None = None
    fail_after_store: frozenset[str] = frozenset()
    log_level: str = "INFO"

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerOptions:
        names = settings.test_fail_after_store
        return cls(
            lifecycle_signals=settings.lifecycle_signals,
            imports=settings.worker_imports,
            embedder=settings.embedder,
            fail_after_store=frozenset(n.strip() for n in names.split(",") if n.strip()),
            log_level=settings.log_level.upper(),
        )


def runtime_activities(runtime: Runtime, options: WorkerOptions) -> list[Callable[..., Any]]:
    """The signal and document activities, built on one runtime."""
    signals = SignalActivities(runtime.service, fail_after_store=options.fail_after_store)
    documents = DocumentActivities(DocumentStore(runtime.store.pool), load_embedder(options.embedder))
    return [*signals.all(), *documents.all()]


def build_worker(
    client: Client,
    settings: Settings,
    activities: Sequence[Callable[..., Any]],
    *,
    lifecycle_signals: bool = False,
    imports: str | None = None,
    emitter: SignalEmitter | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> Worker:
    """The worker for `signalhub worker`: the document and approval workflows, `activities`, and what `imports` names."""
    extra_workflows, extra_activities = imported_definitions(imports, emitter)
    chosen = list(interceptors)
    if lifecycle_signals:
        chosen.append(LifecycleSignalsInterceptor())
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=list(dict.fromkeys([DocumentProcessingWorkflow, ApprovalWorkflow, *extra_workflows])),
        activities=list(dict.fromkeys([*activities, *extra_activities])),
        interceptors=chosen,
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
    )


async def main(settings: Settings, options: WorkerOptions | None = None) -> None:
    """Run the worker until SIGTERM/SIGINT."""
    options = options or WorkerOptions.from_settings(settings)
    logging.config.dictConfig(log_config(options.log_level))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async with open_runtime(settings, pool_size=5) as runtime:
        client = await connect(settings)
        worker = build_worker(
            client,
            settings,
            runtime_activities(runtime, options),
            lifecycle_signals=options.lifecycle_signals,
            imports=options.imports,
            emitter=runtime.service,
        )
        retention = asyncio.create_task(run_retention(runtime.store, settings), name="retention")
        try:
            async with worker:
                freeze_startup_objects()  # a process of signalhub's own (heap.py)
                log.info(
                    "worker polling task queue %r on %s (namespace %s, lifecycle signals %s)",
                    settings.temporal_task_queue, temporal_address(settings),
                    settings.temporal_namespace, "on" if options.lifecycle_signals else "off",
                )
                await stop.wait()
                log.info("stopping: finishing running activities")
        finally:
            retention.cancel()
            await asyncio.gather(retention, return_exceptions=True)
    log.info("worker stopped")
