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
stamp="$VENV/.gn_keras-installed"
want=$(cat setup.cfg pyproject.toml requirements/constraints.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[bootstrap] installing gn_keras and its pinned dependencies (first run: a few minutes)"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip setuptools wheel
  "$VENV/bin/python" -m pip install --quiet -c requirements/constraints.txt -e ".[test]"
  echo "$want" > "$stamp"
fi
# Quieter TensorFlow logs; users can override.
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
export PATH="$PWD/$VENV/bin:$PATH"
