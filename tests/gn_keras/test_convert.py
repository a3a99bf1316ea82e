"""BN -> GN conversion of Keras 3 and tf_keras models."""

import keras
import numpy as np
import pytest
import tf_keras

import gn_keras
from gn_keras import tf_keras as gn_tf_keras
from gn_keras.convert import convert_batch_norm


def _count(model, name):
  """Layers of class `name` in `model`, nested models included."""
  def layers(m):
    for layer in m.layers:
      yield layer
      if hasattr(layer, 'layers'):
        yield from layers(layer)
  return sum(type(layer).__name__ == name for layer in layers(model))


def _moving_statistics(model):
  return sum(int(np.prod(w.shape)) for w in model.non_trainable_weights
             if 'moving' in w.name)


@pytest.fixture(scope='module')
def resnet50():
  return keras.applications.ResNet50(weights=None)


@pytest.fixture(scope='module')
def converted_resnet50(resnet50):
  return convert_batch_norm(resnet50, groups=32)


def test_resnet50_has_group_norm_only(resnet50, converted_resnet50):
  converted = converted_resnet50
  assert _count(resnet50, 'BatchNormalization') == 53
  assert _count(converted, 'BatchNormalization') == 0
  assert _count(converted, 'GroupNormalization') == 53
  assert converted.output_shape == resnet50.output_shape
  assert converted.count_params() == (resnet50.count_params() -
                                      _moving_statistics(resnet50))
  bn = resnet50.get_layer('conv2_block1_1_bn')
  gn = converted.get_layer('conv2_block1_1_bn')
  assert isinstance(gn, gn_keras.GroupNormalization)
  assert (gn.axis, gn.epsilon, gn.groups) == (bn.axis, bn.epsilon, 32)
  np.testing.assert_array_equal(gn.gamma.numpy(), bn.gamma.numpy())
  conv = converted.get_layer('conv2_block1_1_conv')
  np.testing.assert_array_equal(
      conv.kernel.numpy(), resnet50.get_layer('conv2_block1_1_conv').kernel)
  assert not {id(v) for v in converted.weights} & {id(v) for v in
                                                   resnet50.weights}


@pytest.mark.slow
def test_fit_at_two_images_leaves_the_original_alone(resnet50,
                                                     converted_resnet50):
  before = [w.copy() for w in resnet50.get_weights()]
  converted_resnet50.compile(optimizer=keras.optimizers.SGD(0.01),
                             loss='sparse_categorical_crossentropy')
  rng = np.random.default_rng(0)
  images = rng.normal(size=(2, 224, 224, 3)).astype('float32')
  history = converted_resnet50.fit(images, np.array([1, 2]), batch_size=2,
                                   epochs=1, verbose=0)
  assert np.isfinite(history.history['loss'][0])
  for old, new in zip(before, resnet50.get_weights()):
    np.testing.assert_array_equal(old, new)


def test_mobilenet_v2_channel_counts_follow_the_group_rule():
  model = keras.applications.MobileNetV2(weights=None)
  converted = convert_batch_norm(model, groups=32)
  assert _count(converted, 'BatchNormalization') == 0
  assert _count(converted, 'GroupNormalization') == 52
  assert converted.output_shape == model.output_shape
  assert converted.count_params() == (model.count_params() -
                                      _moving_statistics(model))
  # The largest divisor of the channels not above 32: 24 -> 24, 144 -> 24.
  assert converted.get_layer('block_1_project_BN')._groups == 24  # noqa: SLF001
  assert converted.get_layer('block_2_expand_BN')._groups == 24  # noqa: SLF001
  assert converted.get_layer('Conv_1_bn')._groups == 32  # noqa: SLF001
  with pytest.raises(ValueError, match=r"Layer 'bn_Conv1': group_size=5 does "
                     r'not divide its 32 channels'):
    convert_batch_norm(model, groups=None, group_size=5)


def test_converted_model_saves_and_reloads_in_safe_mode(tmp_path):
  inputs = keras.Input((8, 8, 3))
  x = keras.layers.Conv2D(16, 3, use_bias=False)(inputs)
  x = keras.layers.BatchNormalization(epsilon=1e-3)(x)
  model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x))
  converted = convert_batch_norm(model, groups=4, epsilon=1e-5)
  assert converted.layers[2].epsilon == 1e-5
  path = str(tmp_path / 'converted.keras')
  converted.save(path)
  loaded = keras.models.load_model(path, safe_mode=True)
  x = np.random.default_rng(1).normal(size=(2, 8, 8, 3)).astype('float32')
  np.testing.assert_allclose(loaded.predict(x, verbose=0),
                             converted.predict(x, verbose=0), atol=1e-6)


def test_keras3_sequential_nested_in_a_functional_model():
  inner = keras.Sequential([keras.Input((6, 6, 8)),
                            keras.layers.Conv2D(8, 1),
                            keras.layers.BatchNormalization()], name='inner')
  inputs = keras.Input((6, 6, 8))
  model = keras.Model(inputs, keras.layers.BatchNormalization()(inner(inputs)))
  converted = convert_batch_norm(model, groups=4)
  assert _count(converted, 'BatchNormalization') == 0
  assert _count(converted, 'GroupNormalization') == 2
  assert isinstance(converted.get_layer('inner'), keras.Sequential)
  np.testing.assert_array_equal(
      converted.get_layer('inner').layers[0].kernel.numpy(),
      inner.layers[0].kernel.numpy())


def _tf_keras_nested_model():
  inner = tf_keras.Sequential([
      tf_keras.Input((6, 6, 8)),
      tf_keras.layers.Conv2D(8, 1, use_bias=False),
      tf_keras.layers.experimental.SyncBatchNormalization(),
  ], name='inner')
  inputs = tf_keras.Input((6, 6, 3))
  x = tf_keras.layers.Conv2D(8, 3, padding='same')(inputs)
  x = tf_keras.layers.BatchNormalization(center=False)(x)
  x = inner(x)
  x = tf_keras.layers.BatchNormalization(axis=1, name='channels_first_bn')(
      tf_keras.layers.Permute((3, 1, 2))(x))
  return tf_keras.Model(inputs, x)


def test_tf_keras_nested_model_with_sync_batch_norm():
  model = _tf_keras_nested_model()
  for layer in model.layers:  # Non-trivial gammas to copy.
    if hasattr(layer, 'gamma') and layer.gamma is not None:
      layer.gamma.assign(np.arange(1, 9, dtype='float32'))
  converted = convert_batch_norm(model, groups=4)
  assert isinstance(converted, tf_keras.Model)
  assert _count(converted, 'BatchNormalization') == 0
  assert _count(converted, 'SyncBatchNormalization') == 0
  assert _count(converted, 'GroupNormalization') == 3
  first = converted.layers[2]
  assert isinstance(first, gn_tf_keras.GroupNormalization)
  assert (first.center, first.scale) == (False, True)
  np.testing.assert_array_equal(first.gamma.numpy(), np.arange(1, 9))
  assert converted.get_layer('channels_first_bn').axis == 1
  inner = converted.get_layer('inner')
  assert isinstance(inner.layers[-1], gn_tf_keras.GroupNormalization)
  np.testing.assert_array_equal(inner.layers[0].kernel.numpy(),
                                model.get_layer('inner').layers[0].kernel)
  x = np.random.default_rng(2).normal(size=(2, 6, 6, 3)).astype('float32')
  assert converted(x).shape == model(x).shape


def test_bad_arguments_raise():
  model = keras.Sequential([keras.Input((4, 4, 8)),
                            keras.layers.BatchNormalization()])
  with pytest.raises(ValueError, match=r"takes \['activation'\] from each"):
    convert_batch_norm(model, activation='relu')
  with pytest.raises(ValueError, match='exactly one of `groups` and '
                     '`group_size`'):
    convert_batch_norm(model, groups=4, group_size=2)
  with pytest.raises(TypeError, match='converts Keras 3 and tf_keras models'):
    convert_batch_norm(keras.layers.Dense(2))
  unbuilt = keras.Sequential([keras.layers.BatchNormalization()])
  with pytest.raises(ValueError, match='is not built'):
    convert_batch_norm(unbuilt)
