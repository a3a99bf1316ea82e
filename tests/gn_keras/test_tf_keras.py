"""Tests for gn_keras.tf_keras.GroupNormalization (tf_keras / Keras 2)."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from gn_keras import tf_keras as gn_tf_keras


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


def test_batch_norm_checkpoint_never_restores_silently(tmp_path):
  shape = (None, 4, 4, 8)
  bn = tf_keras.layers.BatchNormalization()
  bn.build(shape)
  path = tf.train.Checkpoint(norm=bn).write(str(tmp_path / 'bn'))
  gn = gn_tf_keras.GroupNormalization(groups=2)
  gn.build(shape)
  status = tf.train.Checkpoint(norm=gn).read(path).expect_partial()
  with pytest.raises(AssertionError, match='gn_gamma|gn_beta'):
    status.assert_existing_objects_matched()
  keys = [name for name, _ in tf.train.list_variables(
      tf.train.Checkpoint(norm=gn).write(str(tmp_path / 'gn')))]
  assert keys == ['_CHECKPOINTABLE_OBJECT_GRAPH',
                  'norm/gn_beta/.ATTRIBUTES/VARIABLE_VALUE',
                  'norm/gn_gamma/.ATTRIBUTES/VARIABLE_VALUE']


def test_group_norm_checkpoint_round_trip(tmp_path):
  gn = gn_tf_keras.GroupNormalization(groups=2,
                                      gamma_initializer='random_normal')
  gn.build((None, 8))
  path = tf.train.Checkpoint(norm=gn).write(str(tmp_path / 'gn'))
  other = gn_tf_keras.GroupNormalization(groups=2)
  other.build((None, 8))
  tf.train.Checkpoint(norm=other).read(path).assert_consumed()
  np.testing.assert_array_equal(other.get_weights()[0], gn.get_weights()[0])
