"""Child processes on another Keras backend (Keras fixes it when imported).

Shared by test_jax_backend.py and test_torch_backend.py.
"""

import os
import pathlib
import re
import subprocess
import sys
import textwrap

import keras
import numpy as np

import gn_keras

ROOT = pathlib.Path(__file__).parents[2]


def run_on(backend, args, timeout=600):
  """Runs `python *args` with KERAS_BACKEND=backend; returns its output."""
  env = {**os.environ, 'KERAS_BACKEND': backend, 'JAX_PLATFORMS': 'cpu'}
  result = subprocess.run([sys.executable, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
  output = result.stdout + result.stderr
  assert result.returncode == 0, output[-6000:]
  return output


def passed_tests(backend, test_paths, at_least):
  """Runs the shared layer checks and `test_paths` in pytest on `backend`."""
  output = run_on(backend, [
      '-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-m', 'not tensorflow',
      'tests/gn_keras/test_layer_checks.py', *test_paths])
  summary = output.strip().splitlines()[-1]
  passed = int(re.search(r'(\d+) passed', summary).group(1))
  assert passed >= at_least and 'skipped' not in summary and (
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


def cross_keras_files(folder, backends):
  """A .keras file crosses `backends` in turn, then comes back here.

  Each backend loads the file before it (checking its saver's outputs) and
  saves one of its own; this process loads the last.
  """
  inputs = keras.Input((6, 6, 8))
  hidden = keras.layers.Conv2D(8, 3, padding='same')(inputs)
  outputs = gn_keras.GroupNormalization(
      groups=4, activation='relu', gamma_initializer='random_uniform',
      beta_initializer='random_normal')(hidden)
  model = keras.Model(inputs, outputs)
  x = np.random.default_rng(2).normal(1.0, 2.0, (3, 6, 6, 8)).astype('float32')
  model.save(folder / '0.keras')
  np.savez(folder / '0.npz', x=x, y=model.predict(x, verbose=0))
  script = folder / 'load_check_save.py'
  script.write_text(_LOAD_CHECK_SAVE)
  for step, backend in enumerate(backends, start=1):
    files = [str(folder / f'{i}.{kind}') for i in (step - 1, step)
             for kind in ('keras', 'npz')]
    assert f'loaded on {backend}' in run_on(
        backend, [str(script), backend, *files])
  last = len(backends)
  loaded = keras.models.load_model(folder / f'{last}.keras', safe_mode=True)
  assert isinstance(loaded.layers[-1], gn_keras.GroupNormalization)
  io = np.load(folder / f'{last}.npz')
  np.testing.assert_allclose(loaded.predict(io['x'], verbose=0), io['y'],
                             atol=1e-5)


# sys.modules[name] = None makes `import name` fail, as on a machine without
# TensorFlow: the package, the layer's calls, fit and the two converters must
# not need it; the tf_keras layer says it does.
NO_TENSORFLOW = textwrap.dedent('''
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
    try:
      from gn_keras import tf_keras  # noqa
    except ImportError as e:
      assert 'gn_keras.tf_keras needs TensorFlow and tf_keras' in str(e), e
      print('no tensorflow needed')
''')
