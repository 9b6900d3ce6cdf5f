#!/usr/bin/env python3
"""Two trees of dataqueue from one sitting of trees.sh, side by side.

    python3 compare_trees.py --this <commit> results-*.jsonl > TREES.md

Each results file is one run of the harness in one tree (its records name
the tree's commit in ``version``). Per peer, workload and variant: each
tree's median (and min-max) over its runs, and this tree's median over the
other's. A dataqueue figure is also given as a ratio to the store's reference
peer of the same run (pgqueuer or a bare INSERT, saq or the bare Lua loop,
SqliteHuey; at the same variant when the peer ran it), so that a run the machine
slowed down as a whole counts as such. For p50 latency lower is better.
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from collections import defaultdict

# Per dataqueue adapter, the peers to compare with, the first one a run has.
REFERENCE = {"dataqueue_pg": ["pgqueuer", "bare_psycopg"],
             "dataqueue_redis": ["saq", "bare_redis"],
             "dataqueue_sqlite": ["huey_sqlite"]}  # fmt: skip
COMMIT = re.compile(r"@([0-9a-f]{7,40})")


def figure(record: dict) -> float | None:
    if not record.get("verified", True):
        return None
    if "p50_ms" in record:
        return float(record["p50_ms"])
    rate = record.get("jobs_per_s")
    return None if rate is None else float(rate)


def number(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}"


def span(values: list[float]) -> str:
    if not values:
        return "-"
    low, high = number(min(values)), number(max(values))
    return f"{number(statistics.median(values))} ({low}-{high}, {len(values)} runs)"


def ratio(a: list[float], b: list[float]) -> str:
    if not a or not b:
        return "-"
    return f"{statistics.median(a) / statistics.median(b):.2f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--this", required=True, help="this tree's commit")
    parser.add_argument("results", nargs="+")
    options = parser.parse_args()
    # (peer, workload, variant) -> tree -> figures; and dataqueue ÷ reference
    figures: dict[tuple[str, str, str], dict[str, list[float]]] = defaultdict(
        lambda: defaultdict(list)
    )
    relative: dict[tuple[str, str, str], dict[str, list[float]]] = defaultdict(
        lambda: defaultdict(list)
    )
    trees: list[str] = []
    for path in options.results:
        with open(path) as file:
            records = [json.loads(line) for line in file if line.strip()]
        found = (COMMIT.search(r.get("version", "")) for r in records)
        commits = {m.group(1) for m in found if m}
        if len(commits) != 1:
            raise SystemExit(f"{path}: expected one dataqueue commit, found {commits}")
        tree = "this" if options.this.startswith(commits.pop()[:7]) else "other"
        trees.append(tree)
        run: dict[tuple[str, str, str], float] = {}
        for record in records:
            value = figure(record)
            if value is not None:
                key = (record["peer"], record["workload"], record["variant"])
                figures[key][tree].append(value)
                run[key] = value
        for (peer, workload, variant), value in run.items():
            for other in REFERENCE.get(peer, []):
                reference = run.get((other, workload, variant)) or run.get(
                    (other, workload, "default")
                )
                if reference:
                    relative[(peer, workload, variant)][tree].append(value / reference)
                    break
    order = " ".join(trees)
    print(f"Runs: {trees.count('this')} of this tree ({options.this}), "
          f"{trees.count('other')} of the other, in the order {order}.\n")  # fmt: skip
    print("| peer | workload | variant | other tree | this tree | this ÷ other "
          "| this ÷ other, each as a ratio to its run's reference peer |")  # fmt: skip
    print("| --- | --- | --- | ---: | ---: | ---: | ---: |")
    for key in sorted(figures):
        by_tree = figures[key]
        rel = relative.get(key, {})
        print(
            f"| {' | '.join(key)} | {span(by_tree['other'])} | {span(by_tree['this'])} "
            f"| {ratio(by_tree['this'], by_tree['other'])} "
            f"| {ratio(rel.get('this', []), rel.get('other', []))} |"
        )


if __name__ == "__main__":
    main()
