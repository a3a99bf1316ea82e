"""The README's main job, end to end: train, evaluate, export (~3 minutes)."""

import os
import pathlib
import re
import subprocess

import pytest

REPO = pathlib.Path(__file__).parents[4]
# Measured here: 0.981 validation accuracy in two runs of the seeded 6-epoch
# job (1074 steps at 2 images on each of 4 replicas); chance is 0.1. Unseeded,
# a 4-epoch version scattered over 0.90-0.97, hence the seeds and the margin.
MIN_ACCURACY = 0.93


@pytest.mark.slow
def test_main_job_trains_to_high_accuracy_and_exports(tmp_path):
  env = dict(os.environ, MODEL_DIR=str(tmp_path / 'run'),
             GN_DIGITS_DIR=str(tmp_path / 'digits'))
  out = subprocess.run(['bash', 'scripts/main.sh'], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=900)
  assert out.returncode == 0, out.stderr[-3000:]
  accuracy = float(re.search(r'Main job done: Validation accuracy: ([\d.]+)',
                             out.stdout).group(1))
  assert accuracy >= MIN_ACCURACY
  assert (tmp_path / 'run' / 'export' / 'saved_model' / 'saved_model.pb'
          ).is_file()
  assert 'steps/sec' in out.stderr  # Progress is logged as training goes.
  assert 'Training on 4 replica(s) of MirroredStrategy; global batch 8 = 2.0 ' \
      'per replica' in out.stderr
