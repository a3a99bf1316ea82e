"""tensorflow-addons migration: real tfa 0.23 models load with gn_keras.

The fixtures were saved by TF 2.15.1 with `tfa.layers.GroupNormalization`
(see tests/fixtures/tfa_saved_models/README.md); `io.npz` holds the outputs
TF 2.15 computed. No test passes `custom_objects`.
"""

import json
import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf
import tf_keras

import gn_keras
from gn_keras import compat
from gn_keras import tf_keras as gn_tf_keras

FIXTURES = pathlib.Path(__file__).parents[1] / 'fixtures' / 'tfa_saved_models'


@pytest.fixture(scope='module')
def io():
  data = np.load(FIXTURES / 'io.npz')
  return data['x'], data['y']


def _gn_layers(model):
  return [layer for layer in model.layers
          if 'GroupNormalization' in type(layer).__name__]


def _check(model, io, layer_class):
  x, y = io
  np.testing.assert_allclose(model.predict(x, verbose=0), y, atol=1e-5)
  layers = _gn_layers(model)
  assert [type(layer) for layer in layers] == [layer_class] * 2
  meta = json.loads((FIXTURES / 'meta.json').read_text())
  assert [(layer.groups, layer.epsilon) for layer in layers] == [
      (m['groups'], m['epsilon']) for m in meta['gn_layers']]


def test_tf_keras_load_model_h5(io):
  model = tf_keras.models.load_model(str(FIXTURES / 'model.h5'))
  _check(model, io, gn_tf_keras.GroupNormalization)


def test_keras3_load_model_h5(io):
  model = keras.models.load_model(str(FIXTURES / 'model.h5'))
  _check(model, io, gn_keras.GroupNormalization)


def test_tf_keras_model_from_json_and_load_weights(io):
  model = tf_keras.models.model_from_json(
      (FIXTURES / 'model_config.json').read_text())
  model.load_weights(str(FIXTURES / 'weights.h5'))
  _check(model, io, gn_tf_keras.GroupNormalization)


def test_keras3_model_from_tfa_json_and_load_weights(io):
  model = compat.keras3_model_from_tfa_json(
      (FIXTURES / 'model_config.json').read_text())
  model.load_weights(str(FIXTURES / 'weights.h5'))
  _check(model, io, gn_keras.GroupNormalization)


def test_keras3_own_model_from_json_cannot_read_keras2_json():
  # Why compat.keras3_model_from_tfa_json exists: a Keras 3 limitation for
  # every Keras 2 model, not something about GroupNormalization.
  with pytest.raises(TypeError, match="Could not locate class 'Functional'"):
    keras.models.model_from_json((FIXTURES / 'model_config.json').read_text())


def test_tf_saved_model_load_serves_the_same_outputs(io):
  x, y = io
  loaded = tf.saved_model.load(str(FIXTURES / 'saved_model'))
  outputs = loaded.signatures['serving_default'](tf.constant(x))
  np.testing.assert_allclose(list(outputs.values())[0], y, atol=1e-5)


def test_migrated_model_trains_and_resaves_under_our_name(io, tmp_path):
  model = tf_keras.models.load_model(str(FIXTURES / 'model.h5'))
  x, _ = io
  model.compile(optimizer='sgd', loss='mse')
  model.fit(x, np.zeros((len(x), 10), 'float32'), verbose=0)
  path = str(tmp_path / 'migrated.h5')
  model.save(path)
  config = json.dumps(tf_keras.models.load_model(path).get_config())
  assert 'Addons>' not in config
