#!/usr/bin/env bash
# The Keras 3 layer's benchmarks on JAX and PyTorch, from one command that
# needs no TensorFlow: a GPU machine with only JAX and torch runs it as it is.
# Each runs on its framework's GPU when it sees one, else on the CPU.
#   bash benchmarks/backends.sh [OUTPUT_DIR] [TAG]   # writes jax_TAG.json, torch_TAG.json
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-benchmarks/results}
tag=${2:-cpu}
python=${PYTHON:-python}
mkdir -p "$out"
KERAS_BACKEND=jax "$python" benchmarks/jax_benchmark.py --output="$out/jax_$tag.json"
KERAS_BACKEND=torch "$python" benchmarks/torch_benchmark.py --output="$out/torch_$tag.json"
