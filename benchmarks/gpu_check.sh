#!/usr/bin/env bash
# Training speed on one CUDA GPU in at most 8 minutes: one JSON report (benchmarks/gpu_check.py says what is in it).
#
#   bash benchmarks/gpu_check.sh        # from the repository root: $OUT/gpu_check.json, or the JSON on stdout
#
# Needs PyTorch, click, h5py, scikit-learn, tqdm and matplotlib; downloads nothing. Real MNIST is read from
# $BASICPROP_MNIST_DIR, ../shared/data/mnist or shared/data/mnist (the first holding the four .gz files); without it
# the training run uses basicprop-line, and the report says so. Without a CUDA device it reports that at once.
# PYTHON picks the interpreter (default python3); extra arguments go to gpu_check.py (e.g. --budget 300).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}"
for dir in "${BASICPROP_MNIST_DIR:-}" ../shared/data/mnist shared/data/mnist; do
    if [ -n "$dir" ] && [ -f "$dir/train-images-idx3-ubyte.gz" ]; then
        export BASICPROP_MNIST_DIR="$dir"
        break
    fi
done
# the parts share a 420 s budget; the hard stop leaves the report of every part finished before it
exec timeout --kill-after=10 470 "${PYTHON:-python3}" benchmarks/gpu_check.py --budget 420 "$@"
