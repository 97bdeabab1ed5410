#!/usr/bin/env bash
# Runs the dev experiment (to choose update.py's default), the test experiment (to report)
# and the seed-dictionary-size comparison side by side; each writes results/<name>/report.md.
# Meant for a machine with a GPU and many cores (train.py and update.py use CUDA when present):
#   bash experiments/run_all.sh [python] [timeout seconds] [config names...]
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON="${1:-python3}"
LIMIT="${2:-0}"
shift $(( $# > 2 ? 2 : $# ))
CONFIGS="${*:-example_dev example example_topical_dev example_topical seed_sizes}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
mkdir -p work/logs
for c in $CONFIGS; do
    ( if [ "$LIMIT" != 0 ]; then t="timeout $LIMIT"; else t=""; fi
      $t "$PYTHON" experiment.py --config "experiments/$c.json" -q > "work/logs/$c.log" 2>&1
      echo "$c: exit $?" >> "work/logs/$c.log" ) &
done
wait
for c in $CONFIGS; do tail -n 1 "work/logs/$c.log"; done
