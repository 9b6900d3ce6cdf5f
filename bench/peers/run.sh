#!/usr/bin/env bash
# The peer benchmark in one command, from anywhere in a clone:
#   bash bench/peers/run.sh                          # all stores, 3 interleaved repetitions
#   REPS=5 STORES=sqlite,redis bash bench/peers/run.sh
#   bash bench/peers/run.sh --peers saq,dataqueue_redis --workloads process   # orchestrate.py args
# Builds the venvs (setup.sh), runs the sitting, prints the Markdown report and keeps it, with
# the raw results and worker logs, in bench/peers/.scratch/ (git-ignored).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
[ -n "${SKIP_SETUP:-}" ] || bash setup.sh
scratch=${BENCH_SCRATCH:-$here/.scratch}
mkdir -p "$scratch"
stamp=$(date -u +%Y%m%d-%H%M%S)
out="$scratch/results-$stamp.jsonl"
py=.venvs/baseline/bin/python
echo "sitting $stamp: dataqueue at $(git -C "$here" rev-parse --short HEAD)$(
  git -C "$here" diff --quiet HEAD -- ../../src ../../pyproject.toml || echo ' (+ uncommitted changes in src/)'
), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$py" orchestrate.py --out "$out" --reps "${REPS:-3}" --stores "${STORES:-sqlite,redis,postgres}" "$@"
"$py" report.py "$out" | tee "$scratch/RESULTS-$stamp.md"
echo "report: $scratch/RESULTS-$stamp.md (raw: $out)"
