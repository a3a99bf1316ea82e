"""gn_keras on Keras 3's PyTorch backend, each check in a process of its own.

The torch tier: it needs `torch==2.13.0`, which scripts/bootstrap.sh installs
only where pip resolves it to the CPU build (it says so when it does not, and
these tests then skip with that reason).
"""

import importlib.util

import pytest

from tests.gn_keras import backend_runs

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec('torch') is None,
        reason='torch is not installed: scripts/bootstrap.sh installs '
        'torch==2.13.0 only where pip resolves it to the CPU build'),
]


def test_layer_checks_and_torch_tests_pass_on_the_torch_backend():
  backend_runs.passed_tests('torch', ['tests/gn_keras/torch'], at_least=70)


def test_keras_files_cross_between_tensorflow_jax_and_torch(tmp_path):
  # tensorflow -> torch -> jax -> torch -> tensorflow: every direction that
  # involves torch (tensorflow <-> jax is test_jax_backend.py's).
  backend_runs.cross_keras_files(tmp_path, ['torch', 'jax', 'torch'])


def test_gn_keras_on_torch_runs_with_tensorflow_unimportable():
  assert 'no tensorflow needed' in backend_runs.run_on(
      'torch', ['-c', backend_runs.NO_TENSORFLOW])
