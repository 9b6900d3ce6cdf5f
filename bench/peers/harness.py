"""Run ONE measurement (one adapter, one workload, one repetition) in the peer's venv.

    .venvs/<venv>/bin/python harness.py --adapter pgqueuer --workload process --n 20000

Prints one JSON object on the last stdout line. Driven by orchestrate.py; usable by
hand. Workloads: enqueue_one, enqueue_bulk, process, process4, latency (see
bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import common  # noqa: E402

POLL_S = 0.05  # how often the harness polls adapter.remaining() while a worker runs


def load(name: str):
    return importlib.import_module(f"adapters.{name}")


async def wait_until_empty(ad, client, timeout: float) -> float | None:
    """Poll remaining() until 0; returns the wall time when it was first seen at 0."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if await ad.remaining(client) == 0:
            return time.time()
        await asyncio.sleep(POLL_S)
    return None


async def bulk_fill(ad, client, n: int, start: int = 0) -> None:
    """Untimed pre-fill: native bulk API if any, else enqueue_one with 32 concurrent
    callers."""
    if getattr(ad, "HAS_BULK", False):
        b = getattr(ad, "BULK_BATCH", 1000)
        for s in range(start, start + n, b):
            await ad.enqueue_bulk(
                client,
                [common.make_payload(i) for i in range(s, min(s + b, start + n))],
            )
    else:
        sem = asyncio.Semaphore(32)

        async def one(i):
            async with sem:
                await ad.enqueue_one(client, common.make_payload(i))

        await asyncio.gather(*(one(i) for i in range(start, start + n)))


class Worker:
    """A worker subprocess: python worker_main.py --adapter X ..."""

    def __init__(
        self, adapter: str, concurrency: int, variant: str, tmp: str, tag: str
    ):
        self.first_file = os.path.join(tmp, "first.txt")
        self.lat_file = os.path.join(tmp, "lat.txt")
        log_dir = os.path.join(common.SCRATCH, "logs")
        os.makedirs(log_dir, exist_ok=True)
        self.log_path = os.path.join(log_dir, f"{tag}.worker.log")
        env = dict(
            os.environ,
            BENCH_FIRST_FILE=self.first_file,
            BENCH_LAT_FILE=self.lat_file,
            PYTHONUNBUFFERED="1",
        )
        # open for the worker's whole life: stop() closes it
        self.log = open(self.log_path, "w")  # noqa: SIM115
        self.t_spawn = time.time()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                os.path.join(HERE, "worker_main.py"),
                "--adapter",
                adapter,
                "--concurrency",
                str(concurrency),
                "--variant",
                variant,
            ],
            cwd=HERE,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def t_first(self) -> float | None:
        try:
            with open(self.first_file) as f:
                return float(f.read())
        except (OSError, ValueError):
            return None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def peak_rss_kb(self) -> int | None:
        """VmHWM (peak resident set) of the worker process, read from /proc while it
        lives."""
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return None

    def stop(self) -> None:
        self.vmhwm_kb = self.peak_rss_kb() if self.proc.poll() is None else None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


async def w_enqueue_one(ad, args):
    await ad.reset()
    c = await ad.open_client()
    try:
        for i in range(20):  # warm-up (connection, prepared statements, scripts)
            await ad.enqueue_one(c, common.make_payload(-1 - i))
        payloads = [common.make_payload(i) for i in range(args.n)]
        t0 = time.perf_counter()
        for p in payloads:
            await ad.enqueue_one(c, p)
        dt = time.perf_counter() - t0
        stored = await ad.remaining(c)
    finally:
        await ad.close_client(c)
    ok = stored == args.n + 20
    return {"jobs_per_s": args.n / dt, "seconds": dt, "verified": ok, "stored": stored}


async def w_enqueue_bulk(ad, args):
    if not getattr(ad, "HAS_BULK", False):
        return {
            "skipped": getattr(ad, "BULK_SKIP_REASON", "no native bulk enqueue API")
        }
    await ad.reset()
    b = args.batch or getattr(ad, "BULK_BATCH", 1000)
    c = await ad.open_client()
    try:
        await ad.enqueue_bulk(
            c, [common.make_payload(-1 - i) for i in range(10)]
        )  # warm-up
        batches = [
            [common.make_payload(i) for i in range(s, min(s + b, args.n))]
            for s in range(0, args.n, b)
        ]
        t0 = time.perf_counter()
        for batch in batches:
            await ad.enqueue_bulk(c, batch)
        dt = time.perf_counter() - t0
        stored = await ad.remaining(c)
    finally:
        await ad.close_client(c)
    ok = stored == args.n + 10
    return {
        "jobs_per_s": args.n / dt,
        "seconds": dt,
        "batch": b,
        "verified": ok,
        "stored": stored,
    }


async def w_process(ad, args):
    """Process the pre-filled jobs with one worker process; process4: four
    worker processes at once (aggregate throughput, from the first spawn)."""
    await ad.reset()
    c = await ad.open_client()
    tmp = tempfile.mkdtemp(prefix="run_", dir=common.SCRATCH)
    n_workers = 4 if args.workload == "process4" else 1
    workers: list[Worker] = []
    try:
        t0 = time.time()
        await bulk_fill(ad, c, args.n)
        fill_s = time.time() - t0
        queued = await ad.remaining(c)
        if queued != args.n:
            raise RuntimeError(f"pre-fill stored {queued} != {args.n}")
        if hasattr(ad, "checkpoint"):  # e.g. SQLite: PRAGMA wal_checkpoint(TRUNCATE)
            await ad.checkpoint(c)
        elif ad.BACKEND == "postgres":
            common.pg_checkpoint()
        for k in range(n_workers):
            own = os.path.join(tmp, str(k))
            os.makedirs(own)
            tag = args.tag if n_workers == 1 else f"{args.tag}.w{k}"
            workers.append(
                Worker(args.adapter, args.concurrency, args.variant, own, tag)
            )
        t_end = None
        deadline = time.time() + args.timeout
        while time.time() < deadline:
            if await ad.remaining(c) == 0:
                t_end = time.time()
                break
            for w in workers:
                if not w.alive():
                    raise RuntimeError(f"worker died, see {w.log_path}")
            await asyncio.sleep(POLL_S)
        done = done_at_end = await ad.count_done(c)
        if (
            done != args.n
        ):  # allow a lagging status write to land, but report what we saw first
            await asyncio.sleep(1.0)
            done = await ad.count_done(c)
        state = (
            await ad.describe(c)
            if (done != args.n and hasattr(ad, "describe"))
            else None
        )
        firsts = [t for t in (w.t_first() for w in workers) if t is not None]
        t_first = min(firsts) if firsts else None
    finally:
        for w in workers:
            w.stop()
        await ad.close_client(c)
    if t_end is None:
        return {
            "error": f"timeout after {args.timeout}s",
            "done": done,
            "fill_s": fill_s,
        }
    wall = t_end - workers[0].t_spawn
    peaks = [w.vmhwm_kb for w in workers if w.vmhwm_kb is not None]
    res = {
        "jobs_per_s": args.n / wall,
        "seconds": wall,
        "done": done,
        "done_at_end": done_at_end,
        "verified": done == args.n,
        "fill_s": fill_s,
        "startup_s": (t_first - workers[0].t_spawn) if t_first else None,
        "worker_vmhwm_kb": max(peaks) if peaks else None,
        "workers": n_workers,
    }
    if state is not None:
        res["state_on_mismatch"] = (
            state  # adapter.describe(): job counts per state, for diagnosis
        )
    if t_first:
        res["jobs_per_s_from_first_job"] = args.n / (t_end - t_first)
    return res


def pct(xs, p):
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100
    f = int(k)
    c = min(f + 1, len(xs) - 1)
    return xs[f] + (xs[c] - xs[f]) * (k - f)


def read_latencies(path: str) -> list[float]:
    """Enqueue -> start delays in ms, from the worker's "i t_enqueue t_start" lines."""
    lats = []
    with open(path) as f:
        for line in f:
            _, te, ts = line.split()
            lats.append((float(ts) - float(te)) * 1000.0)
    return lats


async def w_latency(ad, args):
    await ad.reset()
    c = await ad.open_client()
    tmp = tempfile.mkdtemp(prefix="run_", dir=common.SCRATCH)
    w = Worker(args.adapter, args.concurrency, args.variant, tmp, args.tag)
    try:
        # warm-up: worker must have started and processed jobs, then gone idle
        for i in range(5):
            await ad.enqueue_one(c, common.make_payload(-1 - i))
        if await wait_until_empty(ad, c, 60) is None:
            raise RuntimeError(f"warm-up jobs not processed, see {w.log_path}")
        await asyncio.sleep(1.0)
        n, gap = args.n, args.gap_ms / 1000.0
        start = time.time() + 0.05
        for i in range(n):
            target = start + i * gap
            d = target - time.time()
            if d > 0:
                await asyncio.sleep(d)
            p = common.make_payload(i)
            p["t"] = time.time()
            await ad.enqueue_one(c, p)
        if await wait_until_empty(ad, c, 60) is None:
            raise RuntimeError("latency jobs not all processed within 60s")
        await asyncio.sleep(0.2)
        done = await ad.count_done(c)
    finally:
        w.stop()
        await ad.close_client(c)
    lats = read_latencies(w.lat_file)
    return {
        "p50_ms": pct(lats, 50),
        "p95_ms": pct(lats, 95),
        "p99_ms": pct(lats, 99),
        "max_ms": max(lats),
        "mean_ms": statistics.fmean(lats),
        "samples": len(lats),
        "done": done,
        "verified": len(lats) == n and done == n + 5,
        "worker_vmhwm_kb": w.vmhwm_kb,
    }


WORKLOADS = {
    "enqueue_one": w_enqueue_one,
    "enqueue_bulk": w_enqueue_bulk,
    "process": w_process,
    "process4": w_process,
    "latency": w_latency,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--adapter", required=True)
    ap.add_argument("--workload", required=True, choices=sorted(WORKLOADS))
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument(
        "--batch",
        type=int,
        default=0,
        help="bulk batch size (0 = adapter's BULK_BATCH)",
    )
    ap.add_argument("--concurrency", type=int, default=10)
    ap.add_argument("--variant", default="default")
    ap.add_argument("--gap-ms", type=float, default=20.0)
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--tag", default="manual")
    args = ap.parse_args()
    import logging

    logging.basicConfig(level=logging.WARNING)
    ad = load(args.adapter)
    res = asyncio.run(WORKLOADS[args.workload](ad, args))
    res.update(
        adapter=args.adapter,
        workload=args.workload,
        n=args.n,
        variant=args.variant,
        concurrency=args.concurrency,
        version=ad.version(),
        backend=ad.BACKEND,
    )
    print(json.dumps(res))


if __name__ == "__main__":
    main()
