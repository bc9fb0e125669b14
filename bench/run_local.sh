#!/usr/bin/env bash
# The local machines (LS, ELS_ref, bbELS) against the numpy reference bench/local_scores.py, measured
# interleaved in one run: per repetition ours, the floors, then one numpy request to a child process.
# Prints ours/numpy per case (the median of the per-repetition ratios) and max |ours − numpy|.
# Usage: bench/run_local.sh [--repeat 5] [--threads 1]   (quote ratios, never absolute times)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
bash "$here/setup.sh" >&2
(cd "$root" && swift build -c release >&2)
cd "$root"
OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}" "$root/.build/release/diffphys" bench --local --python "$here/.venv/bin/python" "$@"
