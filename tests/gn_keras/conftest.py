"""The `flavour` fixture: each shared layer check runs once per flavour."""

import pytest

from tests.gn_keras import flavours


@pytest.fixture(params=list(flavours.FLAVOURS))
def flavour(request) -> flavours.Flavour:
  """Each flavour of `flavours.FLAVOURS` in turn."""
  return flavours.FLAVOURS[request.param]()
