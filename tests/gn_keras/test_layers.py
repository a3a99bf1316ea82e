"""Tests for gn_keras.layers.GroupNormalization (Keras 3)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import gn_keras


def test_public_import_paths():
  from gn_keras import GroupNormalization  # noqa: PLC0415,reimported
  from gn_keras import group_norm  # noqa: PLC0415,reimported
  from gn_keras.tf_keras import GroupNormalization as TfKerasGN  # noqa: PLC0415
  assert issubclass(GroupNormalization, keras.layers.Layer)
  assert GroupNormalization is not TfKerasGN
  assert callable(group_norm)


def test_keras_file_loads_in_safe_mode(tmp_path):
  model = keras.Sequential([keras.Input((4, 4, 8)),
                            gn_keras.GroupNormalization(groups=4)])
  path = str(tmp_path / 'm.keras')
  model.save(path)
  loaded = keras.models.load_model(path, safe_mode=True)
  assert loaded.layers[0].get_config()['groups'] == 4


def test_model_export_serves_identical_outputs(tmp_path):
  inputs = keras.Input((6, 6, 8))
  model = keras.Model(inputs, gn_keras.GroupNormalization(
      groups=2, gamma_initializer='random_uniform')(inputs))
  x = np.random.default_rng(3).normal(size=(3, 6, 6, 8)).astype('float32')
  expected = model.predict(x, verbose=0)
  path = str(tmp_path / 'export')
  model.export(path, verbose=False)
  serving = tf.saved_model.load(path)
  np.testing.assert_allclose(serving.serve(tf.constant(x)), expected,
                             atol=1e-6)


def test_matches_keras_own_group_normalization():
  x = np.random.default_rng(4).normal(2.0, 3.0, (2, 6, 6, 16)).astype('float32')
  ours = gn_keras.GroupNormalization(groups=4, epsilon=1e-3)
  theirs = keras.layers.GroupNormalization(groups=4, epsilon=1e-3)
  np.testing.assert_allclose(ours(x), theirs(x), atol=1e-4)


def test_rejects_backends_without_a_kernel(monkeypatch):
  # The layer says which backends it supports instead of failing later.
  monkeypatch.setattr(keras.backend, 'backend', lambda: 'openvino')
  with pytest.raises(ValueError, match="backends tensorflow, jax, torch; "
                     "received KERAS_BACKEND='openvino'"):
    gn_keras.GroupNormalization()
