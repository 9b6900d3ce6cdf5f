"""`dataqueue jobs|stats|healthcheck` on every store: what the person on call
types, read back from the store."""

from __future__ import annotations

import asyncio
import json
import signal
from typing import Any

from click.testing import CliRunner, Result

import dataqueue as dq
from dataqueue.cli import main
from tests.cli.conftest import Cluster
from tests.conftest import eventually


def boom(payload: Any) -> None:
    raise ValueError("disk full")


async def cli(cluster: Cluster, *args: str) -> Result:
    # In a thread: healthcheck runs its own event loop.
    runner = CliRunner()
    return await asyncio.to_thread(
        runner.invoke, main, [*args, *cluster.store_args], catch_exceptions=False
    )


async def failed_jobs(queue: dq.JobQueue, job_type: str, n: int) -> list[int]:
    ids = await queue.add_jobs(
        [dq.JobSpec(job_type, {"n": i}, max_attempts=1) for i in range(n)]
    )
    await queue.create_processor(
        {job_type: boom}, job_type=job_type, batch_size=n
    ).start()
    return ids


async def test_list_and_show(cluster: Cluster) -> None:
    queue = cluster.queue
    [failed] = await failed_jobs(queue, "email", 1)
    pending = await queue.add_job("report", {"day": 1}, tags=["nightly"])

    listed = await cli(cluster, "jobs", "list", "--status", "failed", "--json")
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.output)
    assert (row["id"], row["job_type"], row["status"]) == (failed, "email", "failed")

    tagged = await cli(cluster, "jobs", "list", "--tag", "nightly", "--json")
    assert [job["id"] for job in json.loads(tagged.output)] == [pending]

    table = await cli(cluster, "jobs", "list")
    assert table.exit_code == 0
    assert "disk full" in table.output and "report" in table.output

    shown = await cli(cluster, "jobs", "show", str(failed), "--json")
    detail = json.loads(shown.output)
    assert detail["job"]["error_history"][0]["message"].endswith("disk full")
    assert [e["event_type"] for e in detail["events"]] == [
        "added",
        "processing",
        "failed",
    ]
    text = await cli(cluster, "jobs", "show", str(failed))
    assert "error 1 at" in text.output
    assert "Traceback (most recent call last)" in text.output  # kept with the error
    assert 'raise ValueError("disk full")' in text.output

    missing = await cli(cluster, "jobs", "show", "999999")
    assert missing.exit_code == 1 and "no job 999999" in missing.output


async def test_retry_and_cancel_one_or_many(cluster: Cluster) -> None:
    queue = cluster.queue
    ids = await failed_jobs(queue, "email", 3)
    await failed_jobs(queue, "other", 1)

    one = await cli(cluster, "jobs", "retry", str(ids[0]))
    assert one.exit_code == 0 and "retried 1 of 1 job(s)" in one.output
    assert (await queue.get_job(ids[0])).status == dq.JobStatus.PENDING  # type: ignore[union-attr]

    refused = await cli(cluster, "jobs", "retry", "--job-type", "email")
    assert refused.exit_code == 2
    assert "2 jobs would be retried: add --yes" in refused.output
    assert (await queue.count_jobs(job_type="email"))[dq.JobStatus.FAILED] == 2

    bulk = await cli(cluster, "jobs", "retry", "--job-type", "email", "--yes", "--json")
    assert json.loads(bulk.output) == {"retried": ids[1:], "unchanged": []}
    counts = await queue.count_jobs(job_type="email")
    assert counts[dq.JobStatus.PENDING] == 3
    assert (await queue.count_jobs(job_type="other"))[dq.JobStatus.FAILED] == 1

    again = await cli(cluster, "jobs", "retry", str(ids[0]), str(ids[1]), "--json")
    assert json.loads(again.output) == {"retried": [], "unchanged": ids[:2]}

    cancelled = await cli(cluster, "jobs", "cancel", "--job-type", "email", "--yes")
    assert cancelled.exit_code == 0
    assert "cancelled 3 of 3 job(s)" in cancelled.output
    assert (await queue.count_jobs(job_type="email"))[dq.JobStatus.CANCELLED] == 3

    nothing = await cli(cluster, "jobs", "cancel")
    assert nothing.exit_code == 2 and "name job ids, or filters" in nothing.output


async def test_purge_needs_yes(cluster: Cluster) -> None:
    await failed_jobs(cluster.queue, "email", 2)
    refused = await cli(cluster, "jobs", "purge", "--older-than", "0")
    assert refused.exit_code == 2 and "add --yes" in refused.output
    purged = await cli(cluster, "jobs", "purge", "--older-than", "0", "--yes", "--json")
    assert purged.exit_code == 0, purged.output
    assert json.loads(purged.output)["jobs"] == 2
    assert await cluster.queue.get_jobs() == []


async def test_stats(cluster: Cluster) -> None:
    queue = cluster.queue
    await failed_jobs(queue, "email", 1)
    await queue.add_jobs([dq.JobSpec("email", {}) for _ in range(2)])
    await queue.create_processor(
        {"email": lambda p: None}, job_type="email", batch_size=1
    ).start()

    shown = await cli(cluster, "stats", "--json")
    assert shown.exit_code == 0, shown.output
    report = json.loads(shown.output)
    assert report["window_seconds"] == 300
    [email] = report["job_types"]
    assert email["counts"]["pending"] == 1
    assert email["counts"]["completed"] == 1
    assert email["counts"]["failed"] == 1
    assert (email["completed"], email["failed"], email["failure_rate"]) == (1, 1, 0.5)
    assert email["oldest_pending_seconds"] >= 0

    table = await cli(cluster, "stats")
    assert "email" in table.output and "50%" in table.output


async def test_healthcheck_exit_codes(cluster: Cluster) -> None:
    ok = await cli(cluster, "healthcheck")
    assert (ok.exit_code, ok.output.strip()) == (0, "ok: the store answers")

    no_worker = await cli(cluster, "healthcheck", "--worker")
    assert no_worker.exit_code == 3
    assert "no worker heartbeated in the last 60s" in no_worker.output

    with cluster.worker("--worker-id", "probe-me") as worker:

        async def live() -> bool:
            result = await cli(cluster, "healthcheck", "--worker-id", "probe-me")
            return result.exit_code == 0

        await eventually(live, timeout=60)
        other = await cli(cluster, "healthcheck", "--worker-id", "someone-else")
        assert other.exit_code == 3
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0, cluster.logs()


async def test_healthcheck_of_a_store_that_does_not_answer(free_tcp_port: int) -> None:
    runner = CliRunner()
    url = f"redis://:s3cret@127.0.0.1:{free_tcp_port}/0"
    result = await asyncio.to_thread(
        runner.invoke, main, ["healthcheck", "--url", url, "--timeout", "5"]
    )
    assert result.exit_code == 1
    assert result.output.startswith("unhealthy:")
    assert "s3cret" not in result.output
