#!/usr/bin/env bash
# The prepared GPU check: inference and training speed, peak memory, a DDP smoke run with
# resume; one table in results/gpu_check.md. At most 8 minutes on a CUDA machine; without
# one (or with --quick) a CPU-sized dry run of the same code, in about a minute.
#   benchmarks/gpu_check.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=python3
[ -x .venv/bin/python ] && PY=.venv/bin/python
exec timeout 480 "$PY" benchmarks/gpu_check.py "$@"
