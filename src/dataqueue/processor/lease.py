"""Heartbeats: keep the leases of a processor's live attempts fresh.

One store call per interval covers every running attempt and every outcome
not yet written. A job missing from the answer was taken from this worker
(reclaimed after a stall, or cancelled); its attempt is told at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from dataqueue._commands import Lease
from dataqueue._looper import Looper
from dataqueue._outage import OutageLog

if TYPE_CHECKING:
    from dataqueue.processor.loop import Processor


class LeaseKeeper(Looper):
    """Refreshes leases every ``interval`` seconds while its processor runs."""

    def __init__(self, processor: Processor, interval: float) -> None:
        super().__init__()
        self._processor = processor
        self.interval = interval
        self._outage = OutageLog(f"processor {processor.worker_id} heartbeat")

    async def _loop(self) -> None:
        while not self.stopping:
            await self._pause(self.interval)
            if not self.stopping:
                await self.beat()

    async def close(self) -> None:
        """Stop refreshing and wait for the loop to end."""
        self.stop()
        await self._join(None)

    async def beat(self) -> None:
        """Refresh every live lease now."""
        leases: Sequence[Lease] = self._processor.live_leases()
        if not leases:
            return
        runtime = self._processor.runtime
        try:
            store = await runtime.store()
            held = set(await store.heartbeat(leases, now=runtime.now()))
        except Exception as error:
            self._outage.failed(error)
            return
        self._outage.recovered()
        lost: Callable[[Lease], None] = self._processor.lease_lost
        for lease in leases:
            if lease.job_id not in held:
                lost(lease)
