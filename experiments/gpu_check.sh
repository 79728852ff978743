#!/usr/bin/env bash
# GPU readiness check (issue 12): run where a GPU is lent, from the repository root.
#   bash experiments/gpu_check.sh [OUT_DIR]        (OUT_DIR default: $OUT or gpu_check_out)
# Budget: under 8 minutes on one H200, with a hard timeout per phase so that a hang still
# leaves the results of the phases before it. Writes into OUT_DIR:
#   env.txt           nvidia-smi, torch/CUDA versions
#   cuda_tests.txt    the test suite's CUDA-marked tests (pytest -m cuda, and the tests that
#                     skip without CUDA), full output
#   scale_gpu.json    scale benchmark at 1M nodes with the package defaults on device cuda
#   summary.txt       one line per phase: rc and seconds
# Needs: a CUDA build of torch in .venv (setup: bash scripts/setup.sh --cuda, or pip install
# torch with CUDA), and no network: nothing here downloads.
set -u
OUT_DIR=${1:-${OUT:-gpu_check_out}}
mkdir -p "$OUT_DIR"
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python
summary="$OUT_DIR/summary.txt"
: > "$summary"

phase() {  # phase NAME TIMEOUT_S COMMAND...
  local name=$1 limit=$2; shift 2
  local t0=$(date +%s)
  timeout "$limit" "$@"
  local rc=$?
  echo "$name rc=$rc seconds=$(( $(date +%s) - t0 ))" | tee -a "$summary"
}

{ nvidia-smi || true; "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())"; } \
  > "$OUT_DIR/env.txt" 2>&1
"$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 3)" \
  || { echo "no usable CUDA device: see env.txt" | tee -a "$summary"; exit 3; }

# 1. CUDA tests: the ones marked for CUDA, plus the sparse-op, kNN and geodesic suites whose
#    CUDA cases skip on CPU machines (about 1 minute).
phase cuda_tests 180 "$PY" -m pytest -q -rs tests/structure tests/nn tests/node/test_plan.py \
  > "$OUT_DIR/cuda_tests.txt" 2>&1

# 2. Scale: 1M nodes, package defaults, on the GPU (P build + one epoch; about 3 minutes).
phase scale_1m 300 "$PY" experiments/scale_benchmark.py --defaults \
  --sizes 1000000 --physics-seeds 0 --threads 16 --device cuda --out "$(realpath "$OUT_DIR")/scale_gpu" \
  > "$OUT_DIR/scale_log.txt" 2>&1
cat "$summary"
