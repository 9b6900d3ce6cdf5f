#!/usr/bin/env bash
# This tree beside another checkout of dataqueue (an older commit, say), in
# one sitting: the peer harness runs in turns, other, this, this, other, ...
# (ROUNDS pairs, default 3), so the machine's drift during the sitting falls
# on both trees alike. Each tree runs with its own venvs (set up by its own
# setup.sh beforehand, or here unless SKIP_SETUP is set).
#   bash bench/peers/trees.sh ../old-tree --workloads process,latency,enqueue_one,enqueue_bulk
#   ROUNDS=4 STORES=redis bash bench/peers/trees.sh ../old-tree --workloads latency
# The other arguments go to orchestrate.py. Prints compare_trees.py's report
# and keeps it, with every run's results, in bench/peers/.scratch/trees-<time>/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
other=$(cd "$1/bench/peers" && pwd)
shift
rounds=${ROUNDS:-3}
out="$here/.scratch/trees-$(date -u +%Y%m%d-%H%M%S)"
mkdir -p "$out"
if [ -z "${SKIP_SETUP:-}" ]; then
  bash "$here/setup.sh"
  bash "$other/setup.sh"
fi
run() {
  local tree=$1
  shift
  echo "== $(git -C "$tree" rev-parse --short HEAD), load $(cut -d' ' -f1-3 /proc/loadavg)"
  (cd "$tree" && SKIP_SETUP=1 REPS=1 BENCH_SCRATCH="$out" bash run.sh "$@" >/dev/null)
}
for ((round = 1; round <= rounds; round++)); do
  if ((round % 2)); then order=("$other" "$here"); else order=("$here" "$other"); fi
  for tree in "${order[@]}"; do run "$tree" "$@"; done
done
"$here/.venvs/baseline/bin/python" "$here/compare_trees.py" \
  --this "$(git -C "$here" rev-parse --short HEAD)" "$out"/results-*.jsonl \
  | tee "$out/TREES.md"
echo "report: $out/TREES.md"
