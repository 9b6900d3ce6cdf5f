"""Running jobs: the processor, the job context and the handler runner."""

from dataqueue.processor.batch import BatchContext, BatchHandler, batch
from dataqueue.processor.context import AbortSignal, JobContext, SyncJobContext
from dataqueue.processor.loop import Processor

__all__ = [
    "AbortSignal",
    "BatchContext",
    "BatchHandler",
    "JobContext",
    "Processor",
    "SyncJobContext",
    "batch",
]
