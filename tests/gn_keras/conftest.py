"""The `flavour` fixture, and the backend folders' collection.

Each shared layer check runs once per flavour. tests/gn_keras/jax and
tests/gn_keras/torch hold the tests of one Keras 3 backend each: they are
collected only when KERAS_BACKEND names it, since Keras fixes its backend
when first imported. `tests/gn_keras/test_jax_backend.py`
(test_torch_backend.py) runs them, with the shared layer checks, in a pytest
process of their own; run them alone with e.g.
`KERAS_BACKEND=jax python -m pytest tests/gn_keras/jax`.
"""

import os
import pathlib

import pytest

from tests.gn_keras import flavours

_HERE = pathlib.Path(__file__).parent


def pytest_ignore_collect(collection_path):
  """Ignores a backend's folder unless KERAS_BACKEND names that backend."""
  for backend in ('jax', 'torch'):
    if (collection_path.is_relative_to(_HERE / backend) and
        os.environ.get('KERAS_BACKEND') != backend):
      return True
  return None


@pytest.fixture(params=list(flavours.FLAVOURS))
def flavour(request) -> flavours.Flavour:
  """Each flavour of `flavours.FLAVOURS` in turn."""
  return flavours.FLAVOURS[request.param]()
