#!/usr/bin/env bash
# P1, P3 and P4 of issue 12 on one CUDA GPU: tensorderiv with the torch (and cupy) backend
# against torch.func and JAX on the same device; checks every result, prints the table, writes
# benchmarks/gpu.json and appends the ratios, with the device named, to benchmarks/README.md
# (section "GPU"). Needs one GPU and a few minutes; CI never runs it.
#
#   bash benchmarks/gpu.sh                       # full sizes on cuda:0, recorded
#   bash benchmarks/gpu.sh --device cpu --small  # the same path on a CPU in seconds, not recorded
#
# Needs: torch with CUDA, array-api-compat (pip install 'tensorderiv[backends]'); optional: cupy,
# jax with CUDA (pip install 'jax[cuda12]'). PYTHON=... picks the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
"$PYTHON" -c "import torch, array_api_compat, opt_einsum" 2>/dev/null || {
    echo "gpu.sh needs torch, array-api-compat and opt_einsum: pip install torch -e '.[backends]'" >&2
    exit 2
}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"   # this checkout's tensorderiv, installed or not
exec "$PYTHON" benchmarks/bench_gpu.py "$@"
