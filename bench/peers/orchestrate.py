#!/usr/bin/env python3
"""Run the peer benchmark: every (store, workload, peer, variant), REPS times.

    python3 orchestrate.py --out results.jsonl                 # all stores, 3 reps
    python3 orchestrate.py --stores sqlite --reps 1 --out r.jsonl
    python3 orchestrate.py --peers saq,dataqueue_redis --workloads process --out r.jsonl

Standard library only. Each measurement runs `.venvs/<venv>/bin/python harness.py`
in a fresh process and appends its JSON result (plus the machine's load) to --out;
report.py turns that file into Markdown. Order: for each repetition, for each store,
for each workload, every peer of that store in turn, so dataqueue and its peers run
back to back under the same machine load.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

N_ENQ_ONE, N_BULK, N_PROCESS, N_LAT, GAP_MS = 5_000, 50_000, 20_000, 200, 20.0
SIZES = {
    "enqueue_one": N_ENQ_ONE,
    "enqueue_bulk": N_BULK,
    "process": N_PROCESS,
    "process4": N_PROCESS,
    "latency": N_LAT,
}
WORKLOADS = ["enqueue_one", "enqueue_bulk", "process", "process4", "latency"]
# The peers that run process4 (four worker processes on one store): dataqueue
# on each store beside pgqueuer and saq.
FOUR_WORKERS = {
    "dataqueue_pg",
    "pgqueuer",
    "dataqueue_redis",
    "saq",
    "dataqueue_sqlite",
}

# peer -> its venv, its store, and the variants each workload runs (default: "default").
# "default" is each library's defaults (dataqueue: batch_size 10); "b100" is batch 100;
# the bare loops' "default" is batch 100 and their "b10" batch 10.
PLAN: dict[str, dict] = {
    "dataqueue_pg": {
        "venv": "dataqueue",
        "store": "postgres",
        "process": ["default", "b100"],
    },
    "pgqueuer": {
        "venv": "pgqueuer",
        "store": "postgres",
        "process": ["default", "b100"],
    },
    "bare_psycopg": {
        "venv": "baseline",
        "store": "postgres",
        "process": ["default"],
        "latency": [],
    },
    "bare_asyncpg": {
        "venv": "baseline",
        "store": "postgres",
        "process": ["b10"],
        "enqueue_one": [],
        "enqueue_bulk": [],
        "latency": [],
    },
    "procrastinate": {"venv": "procrastinate", "store": "postgres", "optional": True},
    "dataqueue_redis": {
        "venv": "dataqueue",
        "store": "redis",
        "process": ["default", "b100"],
    },
    "saq": {"venv": "saq", "store": "redis", "enqueue_bulk": []},
    "bare_redis": {
        "venv": "baseline",
        "store": "redis",
        "process": ["default", "b10"],
        "latency": [],
    },
    "dataqueue_sqlite": {
        "venv": "dataqueue",
        "store": "sqlite",
        "process": ["default", "b100"],
    },
    "huey_sqlite": {"venv": "huey", "store": "sqlite", "enqueue_bulk": []},
}
STORES = ["sqlite", "redis", "postgres"]


def loadavg() -> float:
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def run_one(peer, workload, variant, rep, out, args):
    venv = PLAN[peer]["venv"]
    py = os.path.join(HERE, ".venvs", venv, "bin", "python")
    tag = f"{peer}.{workload}.{variant}.r{rep}"
    n = SIZES[workload]
    cmd = [py, os.path.join(HERE, "harness.py"), "--adapter", peer,
           "--workload", workload, "--n", str(n), "--variant", variant,
           "--concurrency", str(args.concurrency), "--tag", tag,
           "--gap-ms", str(GAP_MS), "--timeout", str(args.timeout)]  # fmt: skip
    load_before = loadavg()
    t0 = time.time()
    p = subprocess.run(
        cmd, cwd=HERE, capture_output=True, text=True, timeout=args.timeout + 120
    )
    rec = {"rep": rep, "peer": peer, "workload": workload, "variant": variant, "n": n,
           "load1_before": load_before, "started": t0,
           "wall_s": time.time() - t0}  # fmt: skip
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode == 0 and lines:
        rec.update(json.loads(lines[-1]))
        rec["peer"] = peer
    else:
        rec["error"] = (p.stderr or p.stdout)[-2000:]
    out.write(json.dumps(rec) + "\n")
    out.flush()
    return rec


def summary(rec) -> str:
    if "error" in rec:
        return "ERROR " + rec["error"].strip().splitlines()[-1][:200]
    if "skipped" in rec:
        return "skipped: " + rec["skipped"]
    if rec["workload"] == "latency":
        return (
            f"p50={rec['p50_ms']:.1f}ms p95={rec['p95_ms']:.1f}ms "
            f"p99={rec['p99_ms']:.1f}ms ok={rec['verified']}"
        )
    return (
        f"{rec['jobs_per_s']:.0f} jobs/s ({rec['seconds']:.2f}s) ok={rec['verified']}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stores", default=",".join(STORES))
    ap.add_argument(
        "--peers",
        default="",
        help="only these peers (default: every peer of the chosen stores that is "
        "not optional; procrastinate is optional)",
    )
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=10)
    ap.add_argument("--timeout", type=float, default=400)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    stores = [s for s in a.stores.split(",") if s]
    wls = [w for w in a.workloads.split(",") if w]
    chosen = [p for p in a.peers.split(",") if p]
    unknown = [p for p in chosen if p not in PLAN] + [
        s for s in stores if s not in STORES
    ]
    if unknown:
        sys.exit(f"unknown peer or store: {', '.join(unknown)}")
    with open(a.out, "a") as out:
        for rep in range(1, a.reps + 1):
            for store in stores:
                peers = [
                    p
                    for p, cfg in PLAN.items()
                    if cfg["store"] == store
                    and (p in chosen if chosen else not cfg.get("optional"))
                ]
                for wl in wls:
                    for peer in peers:
                        if wl == "process4" and peer not in FOUR_WORKERS:
                            continue
                        for variant in PLAN[peer].get(wl, ["default"]):
                            rec = run_one(peer, wl, variant, rep, out, a)
                            print(
                                f"[rep {rep}] {peer:16s} {wl:12s} {variant:7s} "
                                f"load={rec['load1_before']:.2f} -> {summary(rec)}",
                                flush=True,
                            )


if __name__ == "__main__":
    main()
