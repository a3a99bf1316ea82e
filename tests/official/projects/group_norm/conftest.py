"""Fixtures shared by the group_norm project tests (built once a session)."""

import os

import pytest
import tensorflow as tf

from official.core import exp_factory
from official.projects.group_norm import train


def digits_params(data_dir, train_steps=2, global_batch=2, **runtime):
  """resnet_gn_digits, shortened for tests, reading/making data in data_dir."""
  params = exp_factory.get_exp_config('resnet_gn_digits')
  params.override({
      'runtime': runtime,
      'task': {
          'train_data': {'input_path': os.path.join(data_dir, 'train.tfrecord'),
                         'global_batch_size': global_batch},
          'validation_data': {
              'input_path': os.path.join(data_dir, 'validation.tfrecord'),
              'global_batch_size': 8},
      },
      'trainer': {'train_steps': train_steps, 'steps_per_loop': 1,
                  'checkpoint_interval': 1, 'summary_interval': 1,
                  'validation_interval': train_steps, 'validation_steps': 2},
  }, is_strict=True)
  return params


def checkpoint_step_and_weights(model_dir):
  """The latest checkpoint's (global step, {name: model weight}).

  Weights are the model's and backbone's variables, without optimizer slots.
  """
  reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(model_dir)))
  weights = {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()
             if n.startswith(('model/', 'backbone/')) and
             '.OPTIMIZER_SLOT' not in n}
  return int(reader.get_tensor('global_step/.ATTRIBUTES/VARIABLE_VALUE')), (
      weights)


def copy_checkpoints(model_dir, to_dir):
  """Copies a run's checkpoints (not its summaries or params) to to_dir."""
  tf.io.gfile.makedirs(to_dir)
  for name in tf.io.gfile.listdir(model_dir):
    if name.startswith(('ckpt', 'checkpoint')):
      tf.io.gfile.copy(os.path.join(model_dir, name),
                       os.path.join(to_dir, name))


@pytest.fixture(scope='session')
def data_dir(tmp_path_factory):
  return str(tmp_path_factory.mktemp('digits'))


@pytest.fixture(scope='session')
def trained(data_dir):  # pylint: disable=redefined-outer-name
  """Two steps on 2 CPU replicas at 1 image each: (params, model_dir, model)."""
  model_dir = str(data_dir) + '_run'
  params = digits_params(data_dir, train_steps=2, global_batch=2)
  model, _ = train.run(params, model_dir, 'train', cpu_replicas=2,
                       run_post_eval=False)
  return params, model_dir, model
