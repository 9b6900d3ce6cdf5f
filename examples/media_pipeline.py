"""A media pipeline: an upload fans out into parallel steps, and a join
publishes the item once every step has finished.

An ``item_uploaded`` job starts a flow for its item: one ``resize`` step per
image size, a ``transcode`` step and a ``validate`` step run as ordinary
jobs, in parallel, on any worker. The flow's barrier lives in the store; when
the last step has finished for good, the ``publish`` join runs exactly once
with every step's result in ``payload["flow_results"]``. The validator fails
the item on purpose here (``failure_policy="continue"``): the join still
runs, sees the failure, and publishes without the bad part.

Run it: ``python examples/media_pipeline.py [sqlite:///media.db]``. It starts
a processor in this process; in production ``dataqueue worker`` processes run
the same handlers.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import dataqueue as dq

SIZES = (320, 1280)


async def item_uploaded(payload: dict[str, Any], ctx: dq.JobContext) -> str:
    item = payload["item"]
    return await ctx.start_flow(
        steps=[
            *(dq.JobSpec("resize", {"item": item, "width": w}) for w in SIZES),
            dq.JobSpec("transcode", {"item": item, "codec": "av1"}),
            dq.JobSpec("validate", {"item": item}, max_attempts=1),
        ],
        join=dq.JobSpec("publish", {"item": item}),
        failure_policy="continue",
        timeout=600,
        entity={"id": item, "type": "media_item"},
    )


async def resize(payload: dict[str, Any]) -> dict[str, str]:
    return {"thumbnail": f"{payload['item']}-{payload['width']}w.jpg"}


async def transcode(payload: dict[str, Any]) -> dict[str, str]:
    return {"video": f"{payload['item']}.{payload['codec']}.mp4"}


async def validate(payload: dict[str, Any]) -> None:
    raise ValueError(f"{payload['item']}: subtitles are missing")


async def publish(payload: dict[str, Any]) -> dict[str, Any]:
    results = payload["flow_results"]
    parts = [s["result"] for s in results["steps"] if s["status"] == "success"]
    problems = [s["error"] for s in results["steps"] if s["status"] == "fail"]
    return {"item": payload["item"], "parts": parts, "problems": problems}


handlers = {
    "item_uploaded": item_uploaded,
    "resize": resize,
    "transcode": transcode,
    "validate": validate,
    "publish": publish,
}


async def main(url: str) -> None:
    async with dq.connect(url) as queue:
        await queue.migrate()
        upload = await queue.add_job("item_uploaded", {"item": "clip-7"})
        processor = queue.create_processor(handlers, concurrency=4)
        processor.start_in_background()
        started = await queue.wait_for_job(upload, timeout=30)
        flow_id = started.output
        print(f"flow {flow_id} started by job {upload}")
        flow = await queue.get_flow(flow_id)
        assert flow is not None
        while flow.join_job_id is None:
            await asyncio.sleep(0.05)
            flow = await queue.get_flow(flow_id)
            assert flow is not None
        joined = await queue.wait_for_job(flow.join_job_id, timeout=30)
        await processor.stop_and_drain()
        for step in flow.steps:
            print(f"step {step.step_index} {step.job_type}: {step.outcome}")
        print(f"published: {joined.output}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "sqlite:///media.db"))
