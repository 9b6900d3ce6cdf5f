"""The queues a Django process uses, one per store, shared by its threads
(Django makes a task backend per thread)."""

from __future__ import annotations

import threading

import dataqueue as dq
from dataqueue.contrib.django.conf import QueueSettings, queue_settings

_queues: dict[QueueSettings, dq.SyncJobQueue] = {}
_queues_lock = threading.Lock()


def shared_queue(where: QueueSettings | None = None) -> dq.SyncJobQueue:
    """The process's queue on ``where`` (default: the settings' store)."""
    where = where or queue_settings()
    with _queues_lock:
        if where not in _queues:
            _queues[where] = dq.connect_sync(
                where.url, schema=where.schema, key_prefix=where.key_prefix
            )
        return _queues[where]


def close_queues() -> None:
    """Close the queues opened so far (at the end of a script or test)."""
    with _queues_lock:
        for queue in _queues.values():
            queue.close()
        _queues.clear()
