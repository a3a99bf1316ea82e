"""Keras 3 on JAX, from this (TensorFlow backend) process: child processes.

Keras fixes its backend when first imported, so each check here starts a
Python process with KERAS_BACKEND=jax: the shared layer checks and
tests/gn_keras/jax in pytest, `.keras` files crossing between the backends
both ways, and the TensorFlow-only parts (the tf_keras layer, Model Garden)
working whatever KERAS_BACKEND says.
"""

import os
import pathlib
import re
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import gn_keras

pytestmark = pytest.mark.slow

ROOT = pathlib.Path(__file__).parents[2]


def _run_on_jax(args, timeout=600):
  env = {**os.environ, 'KERAS_BACKEND': 'jax', 'JAX_PLATFORMS': 'cpu'}
  result = subprocess.run([sys.executable, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
  output = result.stdout + result.stderr
  assert result.returncode == 0, output[-6000:]
  return output


def test_layer_checks_and_jax_tests_pass_on_the_jax_backend():
  output = _run_on_jax([
      '-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-m', 'not tensorflow',
      'tests/gn_keras/test_layer_checks.py', 'tests/gn_keras/jax'])
  summary = output.strip().splitlines()[-1]
  passed = int(re.search(r'(\d+) passed', summary).group(1))
  assert passed >= 60 and 'skipped' not in summary and (
      'failed' not in summary), summary


_LOAD_THEN_SAVE_ON_JAX = textwrap.dedent('''
    import sys
    import keras
    import numpy as np
    import gn_keras

    tf_file, tf_io, jax_file, jax_io = sys.argv[1:]
    assert keras.backend.backend() == 'jax'
    model = keras.models.load_model(tf_file, safe_mode=True)
    io = np.load(tf_io)
    np.testing.assert_allclose(model.predict(io['x'], verbose=0), io['y'],
                               atol=1e-5)
    inputs = keras.Input((8, 5, 5))
    layer = gn_keras.GroupNormalization(
        groups=None, group_size=2, axis=1, activation='silu',
        gamma_initializer='random_uniform', beta_initializer='random_normal')
    model = keras.Model(inputs, layer(inputs))
    x = np.random.default_rng(3).normal(2.0, 3.0, (2, 8, 5, 5))
    x = x.astype('float32')
    model.save(jax_file)
    np.savez(jax_io, x=x, y=model.predict(x, verbose=0))
    print('loaded on jax')
''')


def test_keras_files_cross_between_tensorflow_and_jax(tmp_path):
  inputs = keras.Input((6, 6, 8))
  hidden = keras.layers.Conv2D(8, 3, padding='same')(inputs)
  outputs = gn_keras.GroupNormalization(
      groups=4, activation='relu', gamma_initializer='random_uniform',
      beta_initializer='random_normal')(hidden)
  model = keras.Model(inputs, outputs)
  x = np.random.default_rng(2).normal(1.0, 2.0, (3, 6, 6, 8)).astype('float32')
  model.save(tmp_path / 'tf.keras')
  np.savez(tmp_path / 'tf.npz', x=x, y=model.predict(x, verbose=0))
  script = tmp_path / 'load_then_save.py'
  script.write_text(_LOAD_THEN_SAVE_ON_JAX)
  assert 'loaded on jax' in _run_on_jax([
      str(script), *(str(tmp_path / name) for name in (
          'tf.keras', 'tf.npz', 'jax.keras', 'jax.npz'))])
  loaded = keras.models.load_model(tmp_path / 'jax.keras', safe_mode=True)
  assert isinstance(loaded.layers[-1], gn_keras.GroupNormalization)
  io = np.load(tmp_path / 'jax.npz')
  np.testing.assert_allclose(loaded.predict(io['x'], verbose=0), io['y'],
                             atol=1e-5)


def test_gn_keras_on_jax_runs_with_tensorflow_unimportable():
  # sys.modules[name] = None makes `import name` fail, as on a machine
  # without TensorFlow: the package, the layer's calls, fit under jit and
  # BN conversion must not need it; the tf_keras layer says it does.
  script = textwrap.dedent('''
      import sys
      sys.modules['tensorflow'] = sys.modules['tf_keras'] = None
      import numpy as np
      import keras
      import gn_keras

      x = np.random.default_rng(0).normal(size=(4, 4, 4, 8)).astype('float32')
      inputs = keras.Input((4, 4, 8))
      bn = keras.layers.BatchNormalization()(inputs)
      model = gn_keras.convert_batch_norm(keras.Model(inputs, bn), groups=2)
      model.compile(optimizer='sgd', loss='mse')
      model.fit(x, x, epochs=1, verbose=0)
      assert model.predict(x, verbose=0).shape == x.shape
      try:
        from gn_keras import tf_keras  # noqa
      except ImportError as e:
        assert 'gn_keras.tf_keras needs TensorFlow and tf_keras' in str(e), e
        print('no tensorflow needed')
  ''')
  assert 'no tensorflow needed' in _run_on_jax(['-c', script])


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
  assert 'tensorflow parts ok' in _run_on_jax(['-c', script])
