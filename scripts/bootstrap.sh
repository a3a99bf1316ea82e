#!/usr/bin/env bash
# Creates .venv (if needed) and installs the project with its pinned
# dependencies. Sourced by scripts/main.sh and scripts/test.sh; idempotent and
# quick when nothing changed (a stamp records what was installed).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
VENV=.venv
if [ ! -x "$VENV/bin/python" ]; then
  echo "[bootstrap] creating $VENV with $($PYTHON --version 2>&1)"
  "$PYTHON" -m venv "$VENV" || {
    echo "[bootstrap] 'python -m venv' failed; trying virtualenv" >&2
    "$PYTHON" -m pip install --quiet --user virtualenv
    "$PYTHON" -m virtualenv "$VENV"
  }
fi
# The torch tier (Keras 3 on PyTorch) needs torch==2.13.0: installed only if
# pip resolves it to the CPU build with no CUDA package (elsewhere it would
# be a download of several GB). Why it was not is kept in $torch_tier for
# scripts/test.sh to print.
torch_tier="$VENV/.gn_keras-torch-tier"
install_torch_tier() {
  local report
  report=$(mktemp)
  if ! "$VENV/bin/python" -m pip install --quiet --dry-run --report "$report" \
      -c requirements/constraints.txt "torch==2.13.0" >/dev/null 2>&1; then
    echo "pip could not resolve torch==2.13.0 here" > "$torch_tier"
  elif "$VENV/bin/python" scripts/cpu_torch.py "$report" > "$torch_tier"; then
    "$VENV/bin/python" -m pip install --quiet -c requirements/constraints.txt \
      "torch==2.13.0"
    echo "installed" > "$torch_tier"
  fi
  rm -f "$report"
  if [ "$(cat "$torch_tier")" != installed ]; then
    echo "[bootstrap] torch tier not installed: $(cat "$torch_tier")"
  fi
}
stamp="$VENV/.gn_keras-installed"
want=$(cat setup.cfg pyproject.toml requirements/constraints.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[bootstrap] installing gn_keras and its pinned dependencies (first run: a few minutes)"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip setuptools wheel
  "$VENV/bin/python" -m pip install --quiet -c requirements/constraints.txt -e ".[test]"
  install_torch_tier
  echo "$want" > "$stamp"
fi
# Quieter TensorFlow logs; users can override.
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
export PATH="$PWD/$VENV/bin:$PATH"
