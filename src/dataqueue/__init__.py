"""dataqueue: background jobs on PostgreSQL, Redis or an embedded SQLite file."""

import importlib
from typing import Any

from dataqueue import testing
from dataqueue._clock import Clock, SystemClock
from dataqueue._redact import redact
from dataqueue.connect import connect, connect_sync
from dataqueue.cron import CronJob, CronStatus
from dataqueue.errors import (
    BackendError,
    DataQueueError,
    DependencyError,
    HandlerImportError,
    JobTimeoutError,
    NotMigratedError,
    StoreRefusedError,
    StoreUnavailableError,
    TokenError,
    UnsupportedInForceKill,
)
from dataqueue.events import QueueEvent
from dataqueue.limits import Limits, Rate
from dataqueue.models import (
    BatchRef,
    Dedupe,
    DependsOn,
    Entity,
    EventType,
    FailureReason,
    FlowRecord,
    FlowStatus,
    FlowStep,
    HeldCounts,
    JobEvent,
    JobRecord,
    JobSearch,
    JobSpec,
    JobStatus,
    JobTypeStats,
    MinuteStats,
    RecordedAction,
    TagFilter,
    TimeRange,
    Token,
    TokenResult,
    WorkerInfo,
    batch_ref,
)
from dataqueue.processor import (
    AbortSignal,
    BatchContext,
    BatchHandler,
    JobContext,
    Processor,
    SyncJobContext,
    batch,
)
from dataqueue.processor.metrics import ProcessorMetrics, PrometheusCollector
from dataqueue.projections import EntityProjection
from dataqueue.queue import JobQueue
from dataqueue.queue_metrics import QueueCollector
from dataqueue.supervisor import MaintenanceResult, Supervisor
from dataqueue.sync import SyncJobQueue, SyncProcessor, SyncSupervisor

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # The web parts need the `dashboard` extra (Starlette): imported on first
    # use, so `dq.dashboard.create_app` works without importing them eagerly.
    if name in ("dashboard", "web"):
        return importlib.import_module(f"dataqueue.{name}")
    raise AttributeError(f"module 'dataqueue' has no attribute {name!r}")


__all__ = [
    "AbortSignal",
    "BackendError",
    "BatchContext",
    "BatchHandler",
    "BatchRef",
    "Clock",
    "CronJob",
    "CronStatus",
    "DataQueueError",
    "Dedupe",
    "DependencyError",
    "DependsOn",
    "Entity",
    "EntityProjection",
    "EventType",
    "FailureReason",
    "FlowRecord",
    "FlowStatus",
    "FlowStep",
    "HandlerImportError",
    "HeldCounts",
    "JobContext",
    "JobEvent",
    "JobQueue",
    "JobRecord",
    "JobSearch",
    "JobSpec",
    "JobStatus",
    "JobTimeoutError",
    "JobTypeStats",
    "Limits",
    "MaintenanceResult",
    "MinuteStats",
    "NotMigratedError",
    "Processor",
    "ProcessorMetrics",
    "PrometheusCollector",
    "QueueCollector",
    "QueueEvent",
    "Rate",
    "RecordedAction",
    "StoreRefusedError",
    "StoreUnavailableError",
    "Supervisor",
    "SyncJobContext",
    "SyncJobQueue",
    "SyncProcessor",
    "SyncSupervisor",
    "SystemClock",
    "TagFilter",
    "TimeRange",
    "Token",
    "TokenError",
    "TokenResult",
    "UnsupportedInForceKill",
    "WorkerInfo",
    "batch",
    "batch_ref",
    "connect",
    "connect_sync",
    "redact",
    "testing",
]
