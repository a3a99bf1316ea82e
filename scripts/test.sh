#!/usr/bin/env bash
# Sets everything up (scripts/bootstrap.sh), lints (ruff, configured in
# pyproject.toml) and runs the test suite. Extra arguments go to pytest, e.g.
# the fast tier: `bash scripts/test.sh -m "not slow"`, or
# `bash scripts/test.sh tests/gn_keras -k xla`. Lint alone: `.venv/bin/ruff check .`
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
echo "[lint] ruff check ."
if ! ruff check .; then
  echo "[lint] failed: fix the findings above ('ruff check --fix .' fixes some)." >&2
  exit 1
fi
if [ -f .venv/.gn_keras-torch-tier ] &&
   [ "$(cat .venv/.gn_keras-torch-tier)" != installed ]; then
  echo "[torch tier] not run: $(cat .venv/.gn_keras-torch-tier)"
fi
set +e
python -m pytest --durations=25 "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests (exit 5)" >&2
fi
exit "$rc"
