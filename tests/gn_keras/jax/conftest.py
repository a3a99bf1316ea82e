"""Fixtures of the JAX backend's tests (collected on that backend only)."""

import pytest


@pytest.fixture
def x64():
  """Float64 arrays in JAX for the test (the float64 references need it)."""
  import jax  # noqa: PLC0415 (only on the JAX backend)
  with jax.enable_x64(True):
    yield
