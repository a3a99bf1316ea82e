"""Tests of the JAX backend: collected only when KERAS_BACKEND=jax.

`tests/gn_keras/test_jax_backend.py` runs them, with the shared layer
checks, in a pytest process of their own (the Keras backend is fixed when
Keras is first imported); run them alone with
`KERAS_BACKEND=jax python -m pytest tests/gn_keras/jax`.
"""

import os

import pytest

if os.environ.get('KERAS_BACKEND') != 'jax':
  collect_ignore_glob = ['test_*.py']


@pytest.fixture
def x64():
  """Float64 arrays in JAX for the test (the float64 references need it)."""
  import jax  # noqa: PLC0415 (only on the JAX backend)
  with jax.enable_x64(True):
    yield
