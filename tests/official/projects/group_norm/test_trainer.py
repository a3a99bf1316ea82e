"""GuardedTrainer and the checkpoint check, through the training script."""

import math

import numpy as np
import pytest
import tensorflow as tf

from official.core import task_factory
from official.projects.group_norm import train
from official.projects.group_norm import trainer as trainer_lib
from tests.official.projects.group_norm import helpers


@pytest.mark.slow
def test_non_finite_loss_stops_before_checkpointing(trained, data_dir,
                                                    tmp_path):
  _, model_dir, _ = trained
  run_dir = str(tmp_path / 'diverging')
  helpers.copy_checkpoints(model_dir, run_dir)  # Good weights at step 2.
  params = helpers.digits_params(data_dir, train_steps=6)
  params.override({'trainer': {'optimizer_config': {
      'learning_rate': {'stepwise': {'values': [math.inf] * 3}}}}})
  with pytest.raises(trainer_lib.NonFiniteLossError,
                     match=r'non-finite .* at step 3 \(in steps 3\.\.3\); '
                     'stopped before writing a checkpoint'):
    train.run(params, run_dir, 'train', cpu_replicas=2, run_post_eval=False)
  step, weights = helpers.checkpoint_step_and_weights(run_dir)
  assert step == 2  # The good checkpoint, not overwritten.
  assert all(np.all(np.isfinite(w)) for w in weights.values())


@pytest.mark.slow
def test_resuming_a_batch_norm_checkpoint_with_group_norm_raises(
    data_dir, tmp_path):
  run_dir = str(tmp_path / 'bn_run')
  bn = helpers.digits_params(data_dir, train_steps=1)
  bn.override({'task': {'model': {'backbone': {'resnet_gn': {
      'norm': 'batch_norm'}}}}})
  # A BN run's checkpoint at step 1, laid out as the trainer writes it
  # (the model under `model`, the step under `global_step`), without the
  # cost of tracing a training step.
  bn_model = task_factory.get_task(bn.task).build_model()
  checkpoint = tf.train.Checkpoint(
      model=bn_model, global_step=tf.Variable(1, dtype=tf.int64))
  tf.train.CheckpointManager(checkpoint, run_dir, max_to_keep=1).save(
      checkpoint_number=1)
  gn = helpers.digits_params(data_dir, train_steps=2)
  with pytest.raises(ValueError, match=r"was not written by this model.*"
                     r"'gn_beta', 'gn_gamma'\] that the checkpoint lacks.*"
                     r"'moving_mean', 'moving_variance'\] that the model "
                     r'lacks'):
    train.run(gn, run_dir, 'train', cpu_replicas=2, run_post_eval=False)
  assert helpers.checkpoint_step_and_weights(run_dir)[0] == 1  # Untouched.


@pytest.mark.slow
def test_check_checkpoint_matches_accepts_its_own_checkpoint(trained):
  params, model_dir, model = trained
  del params

  class _Trainer:  # Only what the check reads.
    pass

  fake = _Trainer()
  fake.model = model
  trainer_lib.check_checkpoint_matches(fake, model_dir)  # No error.
