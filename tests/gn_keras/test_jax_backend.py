"""Keras 3 on JAX, from this (TensorFlow backend) process: child processes.

Keras fixes its backend when first imported, so each check here starts a
Python process with KERAS_BACKEND=jax: the shared layer checks and
tests/gn_keras/jax in pytest, `.keras` files crossing between the backends
both ways, and the TensorFlow-only parts (the tf_keras layer, Model Garden)
working whatever KERAS_BACKEND says.
"""

import textwrap

import pytest

from tests.gn_keras import backend_runs

pytestmark = pytest.mark.slow


def test_layer_checks_and_jax_tests_pass_on_the_jax_backend():
  backend_runs.passed_tests('jax', ['tests/gn_keras/jax'], at_least=60)


def test_keras_files_cross_between_tensorflow_and_jax(tmp_path):
  backend_runs.cross_keras_files(tmp_path, ['jax'])


def test_gn_keras_on_jax_runs_with_tensorflow_unimportable():
  assert 'no tensorflow needed' in backend_runs.run_on(
      'jax', ['-c', backend_runs.NO_TENSORFLOW])


def test_tensorflow_parts_work_whatever_keras_backend_says():
  script = textwrap.dedent('''
      import numpy as np
      import tf_keras
      from gn_keras import tf_keras as gn_tf_keras
      from official.core import exp_factory, task_factory
      from official.projects.group_norm import registry_imports  # noqa
      from official.projects.group_norm.modeling import norms

      layer = gn_tf_keras.GroupNormalization(groups=2)
      model = tf_keras.Sequential([tf_keras.Input((4, 4, 8)), layer])
      assert model(np.ones((2, 4, 4, 8), 'float32')).shape == (2, 4, 4, 8)
      params = exp_factory.get_exp_config('resnet_gn_digits')
      built = task_factory.get_task(params.task).build_model()
      counts = norms.count_norm_layers(built)
      assert counts['GroupNormalization'] > 0, counts
      print('tensorflow parts ok', dict(counts))
  ''')
  assert 'tensorflow parts ok' in backend_runs.run_on('jax', ['-c', script])
