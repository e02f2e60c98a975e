#!/usr/bin/env bash
# Issue 15's accelerator check in one call: the default recipe's training time on Indian Pines and
# Salinas-A (paper split, three seeds, S = 11 and 21) with Keras on JAX, on a lent GPU machine, whose
# Python (3.12) has JAX, scikit-learn and scipy but no Keras and no network.
#
#   bash scripts/device_training.sh prepare DATA   here: Keras's wheels for Python 3.12 and the two
#                                                  scenes from DATA (laid out like ../shared/data) into .whl/
#   bash scripts/device_training.sh run            there, through the device tool with carry [".whl"]:
#                                                  runs into $OUT/training.jsonl, the log into $OUT/log.txt
#
# BENCH_ARGS replaces the scenes, windows and seeds (default: both scenes, S = 11 and 21, 3 seeds);
# PYTHON the interpreter (default python3), KERAS the Keras wheel asked for. `bench_training.py --table --out training.jsonl` then
# prints the table by window. Each seed's seconds include the step's compilation, as a user's run does.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
BENCH_ARGS=${BENCH_ARGS:---scenes indian_pines salinas_a --windows 11 21 --seeds 3}
KERAS=${KERAS:-keras==3.15.1}   # the Keras the earlier H200 runs and this machine's suites used

case "${1:-}" in
  prepare)
    data=${2:?usage: $0 prepare DATA}
    mkdir -p .whl/data
    "$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
      --platform manylinux2014_x86_64 -d .whl "$KERAS" namex optree
    cp -r "$data/indian_pines" "$data/salinas_a" .whl/data/
    du -sh .whl
    ;;
  run)
    : "${OUT:?run it through the device tool, which sets OUT}"
    if ! "$PYTHON" -c "import keras" 2>/dev/null; then
      "$PYTHON" -m pip install -q --no-deps --no-index --target /tmp/keras-wheels .whl/*.whl
      export PYTHONPATH=/tmp/keras-wheels${PYTHONPATH:+:$PYTHONPATH}
    fi
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >"$OUT/log.txt" 2>&1 || true
    # shellcheck disable=SC2086
    KERAS_BACKEND=jax PYTHONUNBUFFERED=1 "$PYTHON" tests/benchmarks/bench_training.py --data .whl/data \
      $BENCH_ARGS --no-baseline --out "$OUT/training.jsonl" 2>&1 | grep -v -E "^(W|I)[0-9]{4} " | tee -a "$OUT/log.txt"
    ;;
  *)
    echo "usage: $0 prepare DATA | run" >&2
    exit 2
    ;;
esac
