"""Tests for the I3D ResNet-3D-GN backbone and 2-D -> 3-D inflation."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from official.projects.group_norm.configs import backbones
from official.projects.group_norm.modeling import norms
from official.projects.group_norm.modeling import resnet_3d_gn
from official.projects.group_norm.modeling import resnet_gn
from official.vision.configs import common as mg_common
from official.vision.modeling.backbones import resnet_3d as mg_resnet_3d

CLIP = tf_keras.layers.InputSpec(shape=[None, 8, 32, 32, 3])
C2D_KERNELS = [[1] * 3, [1] * 4, [1] * 6, [1] * 3]


def test_i3d_endpoints_and_model_gardens_parameter_count():
  gn = resnet_3d_gn.ResNet3DGN(50, input_specs=CLIP)
  # Temporal stride 1 in the stem; res2's 2x1x1 pool halves time once.
  assert {k: v.as_list() for k, v in gn.output_specs.items()} == {
      '2': [None, 4, 8, 8, 256], '3': [None, 4, 4, 4, 512],
      '4': [None, 4, 2, 2, 1024], '5': [None, 4, 1, 1, 2048]}
  assert set(norms.count_norm_layers(gn)) == {'GroupNormalization'}
  bn = resnet_3d_gn.ResNet3DGN(50, input_specs=CLIP, norm='batch_norm')
  norms.check_norms(bn, 'batch_norm')
  # Model Garden's ResNet3D expresses the same specs without self-gating.
  theirs = mg_resnet_3d.ResNet3D(
      50, temporal_strides=[1, 1, 1, 1],
      temporal_kernel_sizes=resnet_3d_gn.I3D_TEMPORAL_KERNEL_SIZES[50],
      input_specs=CLIP, stem_conv_temporal_stride=1,
      stem_pool_temporal_stride=1)
  assert bn.count_params() == theirs.count_params() == 27276992
  moving = sum(int(np.prod(w.shape)) for w in bn.non_trainable_weights)
  assert gn.count_params() == bn.count_params() - moving


def test_i3d_kernels_and_zero_last_gamma():
  model = resnet_3d_gn.ResNet3DGN(50, input_specs=CLIP, depth_multiplier=0.25,
                                  groups=8)
  first_convs = {layer.name: layer.kernel_size[0] for layer in model.layers
                 if layer.name.endswith('_conv1')}
  assert [first_convs[f'l5_b{b}_conv1'] for b in range(3)] == [1, 3, 1]
  assert [first_convs[f'l3_b{b}_conv1'] for b in range(4)] == [3, 1, 3, 1]
  assert model.get_layer('stem_conv').kernel_size == (5, 7, 7)
  assert not model.get_layer('l4_b0_norm3').gamma.numpy().any()
  assert model.get_layer('l4_b0_norm2').gamma.numpy().all()


def test_config_builds_a_small_network_through_the_registry():
  config = backbones.Backbone3D(type='resnet_3d_gn')
  config.override({'resnet_3d_gn': {
      'block_specs': [{'temporal_kernel_sizes': k} for k in ([3], [1], [3],
                                                             [1])],
      'depth_multiplier': 0.25, 'groups': 8, 'norm': 'batch_norm'}})
  model = resnet_3d_gn.build_resnet_3d_gn(
      CLIP, config, mg_common.NormActivation(use_sync_bn=False))
  assert [layer.name for layer in model.layers
          if layer.name.endswith('_conv3')] == [
      'l2_b0_conv3', 'l3_b0_conv3', 'l4_b0_conv3', 'l5_b0_conv3']
  norms.check_norms(model, 'batch_norm')
  with pytest.raises(ValueError, match='4 block groups of at least one'):
    resnet_3d_gn.ResNet3DGN(50, temporal_kernel_sizes=[[1], [1], [1]])


def _randomized_2d(norm):
  model_2d = resnet_gn.ResNetGN(50, norm=norm, groups=8, depth_multiplier=0.25,
                                input_specs=tf_keras.layers.InputSpec(
                                    shape=[None, 32, 32, 3]))
  rng = np.random.default_rng(0)
  for w in model_2d.weights:  # Non-zero gammas, non-trivial statistics.
    value = rng.normal(size=w.shape) * 0.1
    if 'variance' in w.name or 'gamma' in w.name:
      value = 1 + np.abs(value)
    w.assign(value.astype(np.float32) if 'kernel' not in w.name else
             w.numpy())
  return model_2d


def test_c2d_inflation_gives_the_2d_features_on_a_still_clip():
  model_2d = _randomized_2d('group_norm')
  c2d = resnet_3d_gn.ResNet3DGN(
      50, temporal_kernel_sizes=C2D_KERNELS, stem_conv_temporal_kernel_size=1,
      norm='group_norm', groups=8, depth_multiplier=0.25,
      input_specs=tf_keras.layers.InputSpec(shape=[None, 4, 32, 32, 3]))
  resnet_3d_gn.inflate_2d_weights(c2d, resnet_3d_gn.layer_weights(model_2d))
  image = tf.random.stateless_normal([2, 32, 32, 3], seed=[1, 2])
  clip = tf.repeat(image[:, None], 4, axis=1)
  pooled_2d = tf.reduce_mean(model_2d(image)['5'], [1, 2])
  pooled_3d = tf.reduce_mean(c2d(clip)['5'], [1, 2, 3])
  np.testing.assert_allclose(pooled_3d, pooled_2d, rtol=1e-4, atol=1e-5)


def test_i3d_inflation_differs_only_near_the_clips_edges():
  """Zero temporal padding: the documented deviation of an inflated I3D.

  With BN at inference (per-frame maths) the middle frames of a still clip
  get the 2-D features exactly and the edge frames do not. (GN's statistics
  span the clip, so there the edges shift every frame a little.)
  """
  model_2d = _randomized_2d('batch_norm')
  i3d = resnet_3d_gn.ResNet3DGN(
      50, norm='batch_norm', depth_multiplier=0.25, res2_temporal_pool=False,
      input_specs=tf_keras.layers.InputSpec(shape=[None, 16, 32, 32, 3]))
  resnet_3d_gn.inflate_2d_weights(i3d, resnet_3d_gn.layer_weights(model_2d))
  image = tf.random.stateless_normal([1, 32, 32, 3], seed=[3, 4])
  features_2d = model_2d(image)['2'][0]
  features_3d = i3d(tf.repeat(image[:, None], 16, axis=1))['2'][0]
  # Stem kernel 5 and three 3x1x1 convs: frames 0-4 and 11-15 see padding.
  for t in range(16):
    close = np.allclose(features_3d[t], features_2d, rtol=1e-4, atol=1e-4)
    assert close == (5 <= t <= 10), t


def test_a_mismatching_2d_model_names_the_variables():
  model_2d = resnet_gn.ResNetGN(50, norm='group_norm', groups=8,
                                depth_multiplier=0.5)
  small = resnet_3d_gn.ResNet3DGN(
      50, temporal_kernel_sizes=[[3], [1], [3], [1]], norm='group_norm',
      groups=8, depth_multiplier=0.25, input_specs=CLIP)
  with pytest.raises(ValueError) as error:
    resnet_3d_gn.inflate_2d_weights(small,
                                    resnet_3d_gn.layer_weights(model_2d))
  message = str(error.value)
  assert "shapes that cannot inflate: ['stem_conv/kernel (7, 7, 3, 32) -> " \
      "(5, 7, 7, 3, 16)'" in message
  assert "left unused: ['l2_b1_conv1/kernel'" in message


def test_inflation_reads_a_classification_checkpoint(tmp_path):
  model_2d = _randomized_2d('group_norm')
  tf.train.Checkpoint(backbone=model_2d).save(str(tmp_path / 'ckpt'))
  c2d = resnet_3d_gn.ResNet3DGN(
      50, temporal_kernel_sizes=C2D_KERNELS, stem_conv_temporal_kernel_size=1,
      norm='group_norm', groups=8, depth_multiplier=0.25, input_specs=CLIP)
  resnet_3d_gn.inflate_checkpoint(c2d, str(tmp_path))
  np.testing.assert_array_equal(
      c2d.get_layer('l3_b1_norm2').gamma.numpy(),
      model_2d.get_layer('l3_b1_norm2').gamma.numpy())
  bn_3d = resnet_3d_gn.ResNet3DGN(
      50, temporal_kernel_sizes=C2D_KERNELS, norm='batch_norm',
      depth_multiplier=0.25, input_specs=CLIP)
  with pytest.raises(ValueError, match='holds no 2-D ResNet-GN backbone'):
    resnet_3d_gn.inflate_checkpoint(bn_3d, str(tmp_path))
