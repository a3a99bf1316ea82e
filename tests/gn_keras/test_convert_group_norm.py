"""Keras' own GroupNormalization swapped for ours (`convert_group_norm`)."""

import keras
import numpy as np
import pytest
import tf_keras

import gn_keras
from gn_keras import tf_keras as gn_tf_keras
from gn_keras.convert import convert_group_norm

X = np.random.default_rng(0).normal(3.0, 2.0, (2, 6, 6, 8)).astype('float32')


def _randomize(model):
  rng = np.random.default_rng(1)
  model.set_weights([rng.normal(1.0, 0.5, w.shape).astype('float32')
                     for w in model.get_weights()])
  return model


def _layers(model):
  """Every layer of `model`: nested models' and held ones included."""
  for layer in model._flatten_layers(include_self=False):  # noqa: SLF001
    yield layer


def _kinds(model):
  return sorted(type(layer).__module__.split('.')[0] + '.' +
                type(layer).__name__ for layer in _layers(model)
                if 'GroupNormalization' in type(layer).__name__)


@keras.saving.register_keras_serializable(package='gn_keras_tests')
class Block(keras.layers.Layer):
  """A subclassed layer that builds Keras' GN in __init__ (as libraries do)."""

  def __init__(self, channels, **kwargs):
    super().__init__(**kwargs)
    self.channels = channels
    self.conv = keras.layers.Conv2D(channels, 3, padding='same')
    self.norm = keras.layers.GroupNormalization(groups=4)
    self.norms = [keras.layers.GroupNormalization(groups=2, center=False),
                  keras.layers.GroupNormalization(groups=-1, epsilon=0.1)]

  def call(self, x):  # noqa: D102
    x = self.norm(self.conv(x))
    for norm in self.norms:
      x = norm(x)
    return x

  def get_config(self):  # noqa: D102
    return {**super().get_config(), 'channels': self.channels}


def _keras3_model():
  inputs = keras.Input(X.shape[1:])
  x = keras.layers.GroupNormalization(groups=2, axis=-1)(inputs)
  inner_in = keras.Input(X.shape[1:])
  inner = keras.Model(inner_in, keras.layers.GroupNormalization(
      groups=8, scale=False, epsilon=1e-2)(inner_in), name='inner')
  x = Block(8)(inner(x))
  x = keras.layers.Permute((3, 1, 2))(x)
  x = keras.layers.GroupNormalization(groups=4, axis=1)(x)
  return _randomize(keras.Model(inputs, x))


def test_every_keras_group_norm_becomes_ours_and_computes_the_same():
  model = _keras3_model()
  converted = convert_group_norm(model)
  assert _kinds(converted) == ['gn_keras.GroupNormalization'] * 6
  assert 'gn_keras' not in ''.join(_kinds(model))  # The original is untouched.
  np.testing.assert_allclose(converted(X), model(X), atol=1e-5, rtol=0)
  assert len(converted.weights) == len(model.weights)
  assert not {id(w) for w in converted.weights} & {id(w) for w in model.weights}


def test_each_layer_keeps_its_settings_keras_epsilon_included():
  converted = convert_group_norm(_keras3_model())
  held = converted.get_layer(index=3)
  assert all(isinstance(layer, gn_keras.GroupNormalization)
             for layer in (held.norm, *held.norms))
  assert (held.norm.groups, held.norm.epsilon) == (4, 1e-3)  # Keras' default.
  assert (held.norms[0].center, held.norms[1].groups) == (False, 8)
  assert held.norms[1].epsilon == 0.1
  # The swapped layers are what the block's weights and training see.
  assert {id(w) for w in held.trainable_weights} == {
      id(w) for layer in (held.conv, held.norm, *held.norms)
      for w in layer.trainable_weights}


def test_the_converted_model_reloads_as_ours_in_safe_mode(tmp_path):
  model = _keras3_model()
  converted = convert_group_norm(model)
  path = str(tmp_path / 'converted.keras')
  converted.save(path)
  loaded = keras.models.load_model(path, safe_mode=True)
  np.testing.assert_allclose(loaded(X), model(X), atol=1e-5, rtol=0)
  kinds = _kinds(loaded)
  # Block builds Keras' GN again in its __init__ (documented); the model's
  # own and the nested model's stay ours, and converting again restores all.
  assert kinds.count('gn_keras.GroupNormalization') == 3, kinds
  assert _kinds(convert_group_norm(loaded)) == [
      'gn_keras.GroupNormalization'] * 6


def test_a_tf_keras_model_converts_too():
  inputs = tf_keras.Input(X.shape[1:])
  x = tf_keras.layers.GroupNormalization(groups=4)(inputs)
  x = tf_keras.layers.Conv2D(8, 1)(x)
  model = _randomize(tf_keras.Model(
      inputs, tf_keras.layers.GroupNormalization(groups=-1, epsilon=1e-4)(x)))
  converted = convert_group_norm(model)
  kinds = [type(layer) for layer in converted.layers]
  assert kinds.count(gn_tf_keras.GroupNormalization) == 2
  np.testing.assert_allclose(converted(X), model(X), atol=1e-5, rtol=0)


def test_bad_input_is_refused():
  with pytest.raises(TypeError, match='Keras 3 and tf_keras models'):
    convert_group_norm(keras.layers.GroupNormalization())
  with pytest.raises(ValueError, match='not built'):
    convert_group_norm(keras.Sequential([keras.layers.GroupNormalization()]))


def test_it_is_exported_beside_convert_batch_norm():
  assert gn_keras.convert_group_norm is convert_group_norm
