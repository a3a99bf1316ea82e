"""gn_keras on Keras 3's PyTorch backend, each check in a process of its own.

The torch tier: it needs `torch==2.13.0`, which scripts/bootstrap.sh installs
only where pip resolves it to the CPU build (it says so when it does not, and
these tests then skip with that reason).
"""

import importlib.util
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

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec('torch') is None,
        reason='torch is not installed: scripts/bootstrap.sh installs '
        'torch==2.13.0 only where pip resolves it to the CPU build'),
]

ROOT = pathlib.Path(__file__).parents[2]


def _run_on(backend, args, timeout=600):
  env = {**os.environ, 'KERAS_BACKEND': backend, 'JAX_PLATFORMS': 'cpu'}
  result = subprocess.run([sys.executable, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
  output = result.stdout + result.stderr
  assert result.returncode == 0, output[-6000:]
  return output


def test_layer_checks_and_torch_tests_pass_on_the_torch_backend():
  output = _run_on('torch', [
      '-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-m', 'not tensorflow',
      'tests/gn_keras/test_layer_checks.py', 'tests/gn_keras/torch'])
  summary = output.strip().splitlines()[-1]
  passed = int(re.search(r'(\d+) passed', summary).group(1))
  assert passed >= 70 and 'skipped' not in summary and (
      'failed' not in summary), summary


# Loads a .keras file and checks its outputs, then saves a model of its own.
_LOAD_CHECK_SAVE = textwrap.dedent('''
    import sys
    import keras
    import numpy as np
    import gn_keras

    backend, in_file, in_io, out_file, out_io = sys.argv[1:]
    assert keras.backend.backend() == backend
    model = keras.models.load_model(in_file, safe_mode=True)
    assert isinstance(model.layers[-1], gn_keras.GroupNormalization)
    io = np.load(in_io)
    np.testing.assert_allclose(model.predict(io['x'], verbose=0), io['y'],
                               atol=1e-5)
    inputs = keras.Input((8, 5, 5))
    layer = gn_keras.GroupNormalization(
        groups=None, group_size=2, axis=1, activation='silu',
        gamma_initializer='random_uniform', beta_initializer='random_normal')
    model = keras.Model(inputs, layer(inputs))
    x = np.random.default_rng(3).normal(2.0, 3.0, (2, 8, 5, 5))
    x = x.astype('float32')
    model.save(out_file)
    np.savez(out_io, x=x, y=model.predict(x, verbose=0))
    print('loaded on', backend)
''')


def test_keras_files_cross_between_tensorflow_jax_and_torch(tmp_path):
  # tensorflow -> torch -> jax -> torch -> tensorflow: every direction that
  # involves torch (tensorflow <-> jax is test_jax_backend.py's).
  inputs = keras.Input((6, 6, 8))
  hidden = keras.layers.Conv2D(8, 3, padding='same')(inputs)
  outputs = gn_keras.GroupNormalization(
      groups=4, activation='relu', gamma_initializer='random_uniform',
      beta_initializer='random_normal')(hidden)
  model = keras.Model(inputs, outputs)
  x = np.random.default_rng(2).normal(1.0, 2.0, (3, 6, 6, 8)).astype('float32')
  model.save(tmp_path / '0.keras')
  np.savez(tmp_path / '0.npz', x=x, y=model.predict(x, verbose=0))
  script = tmp_path / 'load_check_save.py'
  script.write_text(_LOAD_CHECK_SAVE)
  for step, backend in enumerate(('torch', 'jax', 'torch'), start=1):
    files = [str(tmp_path / f'{i}.{kind}') for i in (step - 1, step)
             for kind in ('keras', 'npz')]
    assert f'loaded on {backend}' in _run_on(
        backend, [str(script), backend, *files])
  loaded = keras.models.load_model(tmp_path / '3.keras', safe_mode=True)
  io = np.load(tmp_path / '3.npz')
  np.testing.assert_allclose(loaded.predict(io['x'], verbose=0), io['y'],
                             atol=1e-5)


def test_gn_keras_on_torch_runs_with_tensorflow_unimportable():
  # sys.modules[name] = None makes `import name` fail, as on a machine
  # without TensorFlow: the package, the layer's calls, fit and the two
  # converters must not need it.
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
      gn = keras.layers.GroupNormalization(groups=2)(model.output)
      model = gn_keras.convert_group_norm(keras.Model(model.input, gn))
      model.compile(optimizer='sgd', loss='mse')
      model.fit(x, x, epochs=1, verbose=0)
      assert model.predict(x, verbose=0).shape == x.shape
      print('no tensorflow needed')
  ''')
  assert 'no tensorflow needed' in _run_on('torch', ['-c', script])
