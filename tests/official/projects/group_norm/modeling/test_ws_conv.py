"""Weight-standardized convolution against a NumPy reference; names; ResNet."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from official.projects.group_norm.configs import backbones
from official.projects.group_norm.modeling import norms
from official.projects.group_norm.modeling import resnet_gn
from official.projects.group_norm.modeling import ws_conv
from official.vision.configs import common
from official.vision.modeling.backbones import factory

RNG = np.random.default_rng(0)


def _standardized(kernel, epsilon):
  """Float64 NumPy: each output channel's kernel to mean 0, variance 1."""
  kernel = np.asarray(kernel, np.float64)
  mean = kernel.mean(axis=(0, 1, 2), keepdims=True)
  var = ((kernel - mean)**2).mean(axis=(0, 1, 2), keepdims=True)
  return (kernel - mean) / np.sqrt(var + epsilon)


def _layer(x, **kwargs):
  layer = ws_conv.WSConv2D(6, 3, **kwargs)
  layer.build(x.shape)
  # A kernel with per-channel offsets and scales, which WS must remove.
  kernel = RNG.normal(size=layer.ws_kernel.shape) * RNG.uniform(
      0.1, 3.0, 6) + RNG.normal(size=6)
  layer.ws_kernel.assign(kernel.astype('float32'))
  return layer, kernel


@pytest.mark.parametrize('strides,padding', [(1, 'same'), (2, 'valid')])
def test_forward_is_a_convolution_with_the_standardized_kernel(strides,
                                                               padding):
  x = RNG.normal(size=(2, 7, 7, 4)).astype('float32')
  layer, kernel = _layer(x, strides=strides, padding=padding)
  expected = tf.nn.conv2d(x.astype(np.float64), _standardized(kernel, 1e-6),
                          strides, padding.upper())
  y = layer(x)
  np.testing.assert_allclose(y, expected, atol=1e-4)
  assert tuple(layer.compute_output_shape(x.shape)) == tuple(y.shape)


def test_gradients_flow_through_the_standardization():
  x = RNG.normal(size=(2, 5, 5, 4))
  layer, kernel = _layer(x.astype('float32'))

  def loss_of(kernel_variable, standardize, inputs):
    with tf.GradientTape() as tape:
      tape.watch(kernel_variable)
      y = tf.nn.conv2d(inputs, standardize(kernel_variable), 1, 'SAME')
      loss = tf.reduce_sum(tf.sin(y))
    return tape.gradient(loss, kernel_variable)

  def reference(k):  # The same maths in float64, differentiated by TF.
    mean = tf.reduce_mean(k, [0, 1, 2], keepdims=True)
    var = tf.reduce_mean(tf.square(k - mean), [0, 1, 2], keepdims=True)
    return (k - mean) / tf.sqrt(var + 1e-6)

  expected = loss_of(tf.constant(kernel), reference, tf.constant(x))
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(tf.sin(layer(x.astype('float32'))))
  got = tape.gradient(loss, layer.ws_kernel)
  np.testing.assert_allclose(got, expected, atol=2e-4 * float(
      tf.reduce_max(tf.abs(expected))))
  # Scaling a kernel changes nothing: the gradient is orthogonal to it.
  np.testing.assert_allclose(
      float(tf.reduce_sum(got * (layer.ws_kernel - tf.reduce_mean(
          layer.ws_kernel, [0, 1, 2], keepdims=True)))), 0.0, atol=1e-3)


def test_bfloat16_compute_keeps_float32_kernel_statistics():
  tf_keras.mixed_precision.set_global_policy('mixed_bfloat16')
  try:
    x = RNG.normal(size=(2, 5, 5, 4)).astype('float32')
    layer, kernel = _layer(tf.cast(x, tf.bfloat16))
    assert layer.ws_kernel.dtype == tf.float32
    y = layer(tf.cast(x, tf.bfloat16))
    assert y.dtype == tf.bfloat16
    expected = tf.nn.conv2d(x.astype(np.float64), _standardized(kernel, 1e-6),
                            1, 'SAME')
    np.testing.assert_allclose(tf.cast(y, tf.float64), expected, atol=0.15)
  finally:
    tf_keras.mixed_precision.set_global_policy('float32')


def test_a_plain_conv_checkpoint_cannot_fill_it(tmp_path):
  inputs = tf_keras.Input((5, 5, 4))
  plain = tf_keras.Model(inputs, tf_keras.layers.Conv2D(
      6, 3, padding='same', use_bias=False, name='conv')(inputs))
  ws = tf_keras.Model(inputs, ws_conv.WSConv2D(6, 3, name='conv')(inputs))
  assert [w.name.split('/')[-1] for w in ws.weights] == ['ws_kernel:0']
  path = tf.train.Checkpoint(model=plain).save(str(tmp_path / 'plain'))
  status = tf.train.Checkpoint(model=ws).restore(path)
  with pytest.raises(AssertionError, match='ws_kernel'):
    status.assert_existing_objects_matched()
  status.expect_partial()  # Checked above; no warning at deletion.


def test_config_round_trip():
  layer = ws_conv.WSConv2D(6, 3, strides=2, padding='valid', epsilon=1e-4,
                           name='c')
  again = ws_conv.WSConv2D.from_config(layer.get_config())
  assert again.get_config() == layer.get_config()


def test_resnet_gn_with_weight_standardization():
  kwargs = dict(input_specs=tf_keras.layers.InputSpec(
      shape=[None, 32, 32, 3]), depth_multiplier=0.25, groups=4)
  plain = resnet_gn.ResNetGN(18, **kwargs)
  ws = resnet_gn.ResNetGN(18, weight_standardization=True, **kwargs)
  ws_layers = [m for m in ws.layers if isinstance(m, ws_conv.WSConv2D)]
  plain_convs = [m for m in plain.layers
                 if isinstance(m, tf_keras.layers.Conv2D)]
  assert len(ws_layers) == len(plain_convs) and not any(
      isinstance(m, tf_keras.layers.Conv2D) for m in ws.layers)
  assert ws.count_params() == plain.count_params()
  assert norms.count_norm_layers(ws) == norms.count_norm_layers(plain)
  features = ws(tf.random.normal([2, 32, 32, 3]))
  assert features['5'].shape == (2, 1, 1, 128)
  again = resnet_gn.ResNetGN.from_config(ws.get_config())
  assert again.count_params() == ws.count_params()


def test_the_backbone_config_reaches_the_convolutions():
  config = backbones.Backbone(type='resnet_gn', resnet_gn=backbones.ResNetGN(
      model_id=18, depth_multiplier=0.25, groups=4))
  config.override({'resnet_gn': {'weight_standardization': True}})
  model = factory.build_backbone(
      tf_keras.layers.InputSpec(shape=[None, 32, 32, 3]), config,
      common.NormActivation(use_sync_bn=False))
  assert any(isinstance(m, ws_conv.WSConv2D) for m in model.layers)
