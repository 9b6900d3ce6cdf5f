"""Worker process: python worker_main.py --adapter X --concurrency 10 --variant default

Imports adapters.X and calls X.run_worker(concurrency, variant), which blocks until
SIGTERM. With BENCH_PROFILE=<file> the worker runs under cProfile and writes its
stats to <file> when it stops (a diagnostic: never in timed sittings).
"""

import argparse
import importlib
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--adapter", required=True)
    ap.add_argument("--concurrency", type=int, default=10)
    ap.add_argument("--variant", default="default")
    a = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    mod = importlib.import_module(f"adapters.{a.adapter}")
    if os.environ.get("BENCH_PROFILE"):
        import cProfile

        cProfile.run(
            "mod.run_worker(a.concurrency, a.variant)", os.environ["BENCH_PROFILE"]
        )
    else:
        mod.run_worker(a.concurrency, a.variant)
