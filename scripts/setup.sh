#!/usr/bin/env bash
# One-step environment setup: creates ./.venv with the pinned torch and torchvision,
# PyTorch Geometric and this package (editable) with its test and data extras.
# Safe to re-run: it only installs what is missing.
#   bash scripts/setup.sh           the package, its tests' and the data extras
#   bash scripts/setup.sh --bench   also the benchmark suite's peers (UMAP, openTSNE,
#                                   PaCMAP, Optuna, lightly, torchdistill)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
# torch 2.14.1 with torchvision 0.29.1: the pair that imports together (torchvision fails on
# the 2.13.0 CPU wheel with 'operator torchvision::nms does not exist'). Pinned because an
# unpinned torch pulls whatever CUDA build is newest; on this project's machines pip takes
# both from local disk (a 5.5 GB CUDA build that runs on the CPU too).
.venv/bin/python -m pip install -q --disable-pip-version-check \
    "torch==${GENURL_TORCH_VERSION:-2.14.1}" "torchvision==${GENURL_TORCHVISION_VERSION:-0.29.1}"
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test,ogb,plot,vision]"
case "${1:-}" in
    --bench) .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[bench]" ;;
    "") ;;
    *) echo "error: unknown option '$1' (the only option is --bench)" >&2; exit 2 ;;
esac
# The offline mirror of raw data files that sits beside a checkout (CI and dev machines).
if [ -z "${GENURL_DATA_MIRROR:-}" ] && [ -d ../shared/datasets ]; then
    echo "note: raw data mirror found at ../shared/datasets (set GENURL_DATA_MIRROR to override)"
fi
