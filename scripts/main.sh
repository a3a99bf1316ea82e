#!/usr/bin/env bash
# Sets everything up (scripts/bootstrap.sh) and runs the main job: the demo
# that trains a small Keras 3 CNN with gn_keras.GroupNormalization on
# scikit-learn's digits at batch 2 and round-trips it through .keras and
# SavedModel. Extra arguments go to the demo (see --help).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
python -m gn_keras.demo "$@"
