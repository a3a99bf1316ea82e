#!/usr/bin/env bash
# Sets everything up (scripts/bootstrap.sh) and runs the test suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh tests/gn_keras -k xla`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
set +e
python -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests (exit 5)" >&2
fi
exit "$rc"
