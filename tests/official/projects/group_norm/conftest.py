"""Fixtures shared by the group_norm project tests (built once a session)."""

import os

import pytest

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
