"""GuardedTrainer and the checkpoint check, through the training script."""

import json
import math
import os

import numpy as np
import pytest

from official.projects.group_norm import train
from official.projects.group_norm import trainer as trainer_lib
from tests.official.projects.group_norm.conftest import checkpoint_step_and_weights
from tests.official.projects.group_norm.conftest import copy_checkpoints
from tests.official.projects.group_norm.conftest import digits_params


def test_non_finite_loss_stops_before_checkpointing(trained, data_dir,
                                                    tmp_path):
  _, model_dir, _ = trained
  run_dir = str(tmp_path / 'diverging')
  copy_checkpoints(model_dir, run_dir)  # Good weights at step 2.
  params = digits_params(data_dir, train_steps=6)
  params.override({'trainer': {'optimizer_config': {
      'learning_rate': {'stepwise': {'values': [math.inf] * 3}}}}})
  with pytest.raises(trainer_lib.NonFiniteLossError,
                     match=r'non-finite .* at step 3 \(in steps 3\.\.3\); '
                     'stopped before writing a checkpoint'):
    train.run(params, run_dir, 'train', cpu_replicas=2, run_post_eval=False)
  step, weights = checkpoint_step_and_weights(run_dir)
  assert step == 2  # The good checkpoint, not overwritten.
  assert all(np.all(np.isfinite(w)) for w in weights.values())


def test_resuming_a_batch_norm_checkpoint_with_group_norm_raises(
    data_dir, tmp_path):
  run_dir = str(tmp_path / 'bn_run')
  bn = digits_params(data_dir, train_steps=1)
  bn.override({'task': {'model': {'backbone': {'resnet_gn': {
      'norm': 'batch_norm'}}}}})
  train.run(bn, run_dir, 'train', cpu_replicas=2, run_post_eval=False)
  gn = digits_params(data_dir, train_steps=2)
  with pytest.raises(ValueError, match=r"was not written by this model.*"
                     r"'gn_beta', 'gn_gamma'\] that the checkpoint lacks.*"
                     r"'moving_mean', 'moving_variance'\] that the model "
                     r'lacks'):
    train.run(gn, run_dir, 'train', cpu_replicas=2, run_post_eval=False)
  assert checkpoint_step_and_weights(run_dir)[0] == 1  # Untouched.


def test_check_checkpoint_matches_accepts_its_own_checkpoint(trained):
  params, model_dir, model = trained
  del params

  class _Trainer:  # Only what the check reads.
    pass

  fake = _Trainer()
  fake.model = model
  trainer_lib.check_checkpoint_matches(fake, model_dir)  # No error.


def test_write_eval_metrics_keeps_scalars_and_the_step(tmp_path):
  metrics = trainer_lib.write_eval_metrics(
      str(tmp_path), {'accuracy': np.float32(0.5),
                      'confusion': np.zeros((2, 2))}, 7)
  assert metrics == {'accuracy': 0.5, 'global_step': 7}
  with open(tmp_path / trainer_lib.EVAL_METRICS_FILE) as f:
    assert json.load(f) == metrics
  assert os.listdir(tmp_path) == [trainer_lib.EVAL_METRICS_FILE]
