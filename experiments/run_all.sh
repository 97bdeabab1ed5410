#!/usr/bin/env bash
# Runs the dev experiment (to choose update.py's default), the test experiment (to report)
# and the seed-dictionary-size comparison side by side; each writes results/<name>/report.md.
# Meant for a machine with a GPU and many cores (train.py and update.py use CUDA when present):
#   bash experiments/run_all.sh [python] [timeout seconds]
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON="${1:-python3}"
LIMIT="${2:-0}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
mkdir -p work/logs
for c in example_dev example seed_sizes; do
    ( if [ "$LIMIT" != 0 ]; then t="timeout $LIMIT"; else t=""; fi
      $t "$PYTHON" experiment.py --config "experiments/$c.json" -q > "work/logs/$c.log" 2>&1
      echo "$c: exit $?" >> "work/logs/$c.log" ) &
done
wait
tail -n 2 work/logs/*.log
