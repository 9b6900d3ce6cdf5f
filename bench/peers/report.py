#!/usr/bin/env python3
"""Summarise a results file from orchestrate.py as Markdown.

    python3 report.py results.jsonl > RESULTS.md

First the targets (issue 7, "Speed"): each one a ratio of two medians from the same
sitting, met or not and by how much. Then one table per store (median and min-max of
the repetitions, worker peak RSS), then anything that did not verify.
Standard library only.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict

STORE_PEERS = {
    "postgres": ["dataqueue_pg", "pgqueuer", "procrastinate", "bare_psycopg",
                 "bare_asyncpg"],
    "redis": ["dataqueue_redis", "saq", "bare_redis"],
    "sqlite": ["dataqueue_sqlite", "huey_sqlite"],
}  # fmt: skip
DATAQUEUE = {"postgres": "dataqueue_pg", "redis": "dataqueue_redis",
             "sqlite": "dataqueue_sqlite"}  # fmt: skip
TITLES = {"postgres": "PostgreSQL", "redis": "Redis", "sqlite": "SQLite"}
WORKLOAD_TITLES = {
    "enqueue_one": "enqueue, one job per call (jobs/s)",
    "enqueue_bulk": "bulk enqueue, 1,000 per call (jobs/s)",
    "process": "process 20,000 no-op jobs, 1 worker, concurrency 10 (jobs/s)",
    "process4": "process 20,000 no-op jobs, 4 worker processes, concurrency 10 each "
    "(jobs/s)",
    "latency": "enqueue → handler start, idle worker (p50 ms)",
}
RSS_LIMIT_MIB = 40.0

# (store, what, workload, dataqueue variant, other peer, its variant, target ratio).
# Throughput: dataqueue / other >= target. Latency: dataqueue p50 / other p50 <= target.
# A target of None: compared, no target set.
TARGETS = [
    ("postgres", "process, batch 10 vs pgqueuer's default", "process", "default",
     "pgqueuer", "default", 2.0),
    ("postgres", "process, batch 100 vs pgqueuer at batch 100", "process", "b100",
     "pgqueuer", "b100", 1.2),
    ("postgres", "bulk enqueue vs pgqueuer", "enqueue_bulk", "default",
     "pgqueuer", "default", 1.0),
    ("postgres", "one add_job per call vs bare psycopg INSERT", "enqueue_one",
     "default",
     "bare_psycopg", "default", 0.9),
    ("postgres", "enqueue → start p50 vs pgqueuer", "latency", "default",
     "pgqueuer", "default", 1.0),
    ("redis", "process, batch 10 vs saq", "process", "default", "saq", "default", 4.0),
    ("redis", "process, batch 100 vs bare Lua loop (batch 100)", "process", "b100",
     "bare_redis", "default", 0.5),
    ("redis", "enqueue → start p50 vs saq", "latency", "default", "saq", "default",
     1.0),
    ("postgres", "4 worker processes vs pgqueuer's 4", "process4", "default",
     "pgqueuer", "default", None),
    ("redis", "4 worker processes vs saq's 4", "process4", "default", "saq", "default",
     None),
    ("sqlite", "process vs SqliteHuey", "process", "default", "huey_sqlite", "default",
     5.0),
    ("sqlite", "enqueue → start p50 (other process) vs Huey", "latency", "default",
     "huey_sqlite", "default", 1.0),
]  # fmt: skip


def median_of(rs, field):
    """Median over every run that finished; a run whose counts did not verify
    still counts (its time was measured) and is listed at the end."""
    xs = [r[field] for r in rs if r.get(field) is not None]
    return statistics.median(xs) if xs else None


def spread(rs, field, nd=0):
    xs = [r[field] for r in rs if r.get(field) is not None]
    if not xs:
        return "-"
    f = f"{{:,.{nd}f}}"
    m = statistics.median(xs)
    if len(xs) == 1:
        return f.format(m)
    return f"{f.format(m)} ({f.format(min(xs))}-{f.format(max(xs))})"


def field_of(workload):
    return "p50_ms" if workload == "latency" else "jobs_per_s"


def verdict(ratio, target, lower_is_better):
    if lower_is_better:
        if ratio <= target:
            return "met"
        return f"not met: {100 * (ratio / target - 1):.0f}% slower than the peer"
    if ratio >= target:
        return "met"
    short = 100 * (1 - ratio / target)
    return f"not met: {short:.0f}% short ({ratio / target:.2f}x the target)"


def main(path):
    with open(path) as f:
        recs = [json.loads(line) for line in f if line.strip()]
    groups = defaultdict(list)
    versions = {}
    for r in recs:
        groups[(r["peer"], r["workload"], r["variant"])].append(r)
        if "version" in r:
            versions[r["peer"]] = r["version"]
    reps = max((r.get("rep", 1) for r in recs), default=0)
    out = [f"Source: `{path}`: {len(recs)} measurements, {reps} repetition(s).", ""]
    known = [p for peers in STORE_PEERS.values() for p in peers if p in versions]
    out.append("Versions: " + "; ".join(versions[p] for p in known) + ".")

    out += ["", "### Targets (ratios of medians in this sitting)", ""]
    out.append("| store | target | dataqueue | other | ratio | needed | verdict |")
    out.append("|---|---|---|---|---|---|---|")
    for store, what, wl, dv, other, ov, target in TARGETS:
        dq = median_of(groups.get((DATAQUEUE[store], wl, dv), []), field_of(wl))
        peer = median_of(groups.get((other, wl, ov), []), field_of(wl))
        if dq is None or peer is None:
            continue
        lat = wl == "latency"
        ratio = dq / peer
        unit = " ms" if lat else ""
        if target is None:
            need, judged = "-", "compared"
        else:
            need = f"≤ {target:.2f}x" if lat else f"≥ {target:.2f}x"
            judged = verdict(ratio, target, lat)
        out.append(
            f"| {TITLES[store]} | {what} | {dq:,.{1 if lat else 0}f}{unit} "
            f"| {peer:,.{1 if lat else 0}f}{unit} | {ratio:.2f}x | {need} "
            f"| {judged} |"
        )
    for store, peer in DATAQUEUE.items():
        rss = [
            r["worker_vmhwm_kb"] / 1024
            for (p, wl, _), rs in groups.items()
            if p == peer and wl in ("process", "process4", "latency")
            for r in rs
            if r.get("worker_vmhwm_kb")
        ]
        if rss:
            peak = max(rss)
            over = peak - RSS_LIMIT_MIB
            ok = "met" if over <= 0 else f"not met by {over:.1f} MiB"
            out.append(
                f"| {TITLES[store]} | worker peak RSS (largest of all runs) | "
                f"{peak:.1f} MiB | | | ≤ {RSS_LIMIT_MIB:.0f} MiB | {ok} |"
            )

    for store, peers in STORE_PEERS.items():
        rows = [k for k in groups if k[0] in peers]
        if not rows:
            continue
        out += ["", f"### {TITLES[store]}", ""]
        out.append(
            "| workload | library | variant | median (min-max) "
            "| worker peak RSS MiB | runs verified |"
        )
        out.append("|---|---|---|---|---|---|")
        for wl in WORKLOAD_TITLES:
            for peer in peers:
                for k in sorted(
                    (k for k in rows if k[0] == peer and k[1] == wl),
                    key=lambda k: (k[2] != "default", k[2]),
                ):
                    rs = groups[k]
                    if any("skipped" in r for r in rs):
                        continue
                    good = [r for r in rs if field_of(wl) in r]
                    ok = sum(1 for r in good if r.get("verified"))
                    errs = len(rs) - len(good)
                    value = spread(good, field_of(wl), 1 if wl == "latency" else 0)
                    if wl == "latency":
                        value += f" (p95 {spread(good, 'p95_ms', 1)})"
                    rss = [
                        {**r, "mib": r["worker_vmhwm_kb"] / 1024}
                        for r in good
                        if r.get("worker_vmhwm_kb")
                    ]
                    out.append(
                        f"| {WORKLOAD_TITLES[wl]} | {peer} | {k[2]} | {value} "
                        f"| {spread(rss, 'mib', 1)} "
                        f"| {ok}/{len(rs)}{f' ({errs} errors)' if errs else ''} |"
                    )

    bad = [r for r in recs if r.get("verified") is False]
    if bad:
        out += ["", "### Runs whose counts did not verify", ""]
        for r in bad:
            state = r.get("state_on_mismatch", "")
            out.append(
                f"- {r['peer']} {r['workload']} {r['variant']} rep {r.get('rep')}: "
                f"done {r.get('done', '')} of {r['n']} {state}"
            )
    errs = [r for r in recs if "error" in r]
    if errs:
        out += ["", "### Errors", ""]
        for r in errs:
            last = (
                r["error"].strip().splitlines()[-1][:300] if r["error"].strip() else ""
            )
            what = f"{r['peer']} {r['workload']} {r['variant']} rep {r.get('rep')}"
            out.append(f"- {what}: {last}")
    loads = [r["load1_before"] for r in recs]
    out.append(
        f"\n1-minute load average before each measurement: median "
        f"{statistics.median(loads):.2f}, max {max(loads):.2f}."
    )
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1])
