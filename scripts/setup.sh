#!/usr/bin/env bash
# One-step environment setup: creates ./.venv with the pinned CPU build of torch,
# PyTorch Geometric and this package (editable) with its test and data extras.
# Safe to re-run: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
# torch==2.13.0 is the CPU wheel; an unpinned torch would pull a multi-GB CUDA build.
.venv/bin/python -m pip install -q --disable-pip-version-check "torch==${GENURL_TORCH_VERSION:-2.13.0}"
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test,ogb,plot]"
# The offline mirror of raw data files that sits beside a checkout (CI and dev machines).
if [ -z "${GENURL_DATA_MIRROR:-}" ] && [ -d ../shared/datasets ]; then
    echo "note: raw data mirror found at ../shared/datasets (set GENURL_DATA_MIRROR to override)"
fi
