"""Tests for gn_keras.tf_keras.GroupNormalization (tf_keras / Keras 2)."""

import numpy as np
import pytest
import tf_keras

from gn_keras import tf_keras as gn_tf_keras
from tests.gn_keras.layer_checks import *  # pylint: disable=wildcard-import
from tests.gn_keras.layer_checks import Flavour


@pytest.fixture
def flavour():
  return Flavour(keras=tf_keras, layer=gn_tf_keras.GroupNormalization,
                 set_policy=tf_keras.mixed_precision.set_global_policy,
                 save_formats=('.h5', '.keras', ''))  # '' = SavedModel dir.


def test_matches_tf_keras_own_group_normalization():
  x = np.random.default_rng(4).normal(2.0, 3.0, (2, 6, 6, 16)).astype('float32')
  ours = gn_tf_keras.GroupNormalization(groups=4, epsilon=1e-3)
  theirs = tf_keras.layers.GroupNormalization(groups=4, epsilon=1e-3)
  np.testing.assert_allclose(ours(x), theirs(x), atol=1e-4)


def test_registered_for_deserialization_by_name():
  config = tf_keras.layers.serialize(gn_tf_keras.GroupNormalization(groups=2))
  assert config['registered_name'] == 'gn_keras>GroupNormalization'
  layer = tf_keras.layers.deserialize(config)
  assert isinstance(layer, gn_tf_keras.GroupNormalization)
