"""Tests for the ResNet-GN backbone."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from gn_keras.tf_keras import GroupNormalization
from official.projects.group_norm.modeling import norms
from official.projects.group_norm.modeling import resnet_gn
from official.vision.modeling.backbones import resnet as mg_resnet

SPEC = tf_keras.layers.InputSpec(shape=[None, 64, 64, 3])


# Model Garden's own ResNet parameter counts (BN, 4 values per channel).
@pytest.mark.parametrize('depth,params_bn,channels', [
    (18, 11190464, 512), (34, 21306048, 512), (50, 23561152, 2048),
    (101, 42605504, 2048), (152, 58295232, 2048)])
def test_endpoints_and_parameter_counts(depth, params_bn, channels):
  gn = resnet_gn.ResNetGN(depth, SPEC)
  assert {k: v.as_list() for k, v in gn.output_specs.items()} == {
      '2': [None, 16, 16, channels // 8], '3': [None, 8, 8, channels // 4],
      '4': [None, 4, 4, channels // 2], '5': [None, 2, 2, channels]}
  assert set(norms.count_norm_layers(gn)) == {'GroupNormalization'}
  bn = resnet_gn.ResNetGN(depth, SPEC, norm='batch_norm')
  assert set(norms.count_norm_layers(bn)) == {'BatchNormalization'}
  assert bn.count_params() == params_bn
  # GN has gamma/beta only: BN's moving mean and variance are gone.
  moving = sum(int(np.prod(w.shape)) for w in bn.non_trainable_weights)
  assert gn.count_params() == params_bn - moving


def test_batch_norm_variant_matches_model_garden_resnet_exactly():
  ours = resnet_gn.ResNetGN(50, SPEC, norm='batch_norm')
  theirs = mg_resnet.ResNet(50, SPEC)
  assert sorted(w.shape.as_list() for w in ours.weights) == sorted(
      w.shape.as_list() for w in theirs.weights)


def test_last_gamma_of_each_block_starts_at_zero():
  model = resnet_gn.ResNetGN(18, SPEC, depth_multiplier=0.25, groups=8)
  gammas = {layer.name: layer.get_weights()[0] for layer in model.layers
            if isinstance(layer, GroupNormalization)}
  assert not gammas['l2_b0_norm2'].any() and not gammas['l5_b1_norm2'].any()
  assert gammas['l2_b0_norm1'].all() and gammas['l2_b0_proj_norm'].all()
  assert gammas['stem_norm'].all()
  off = resnet_gn.ResNetGN(18, SPEC, depth_multiplier=0.25, groups=8,
                           zero_init_last_gamma=False)
  assert off.get_layer('l2_b0_norm2').get_weights()[0].all()


def test_convolutions_have_no_bias():
  model = resnet_gn.ResNetGN(18, SPEC, depth_multiplier=0.25, groups=8)
  convs = [layer for layer in model.layers
           if isinstance(layer, tf_keras.layers.Conv2D)]
  assert convs and not any(c.use_bias for c in convs)


def test_config_round_trip_and_same_outputs():
  model = resnet_gn.ResNetGN(18, SPEC, depth_multiplier=0.25, groups=4,
                             norm_epsilon=1e-4)
  clone = resnet_gn.ResNetGN.from_config(model.get_config())
  assert clone.get_config() == model.get_config()
  clone.set_weights(model.get_weights())
  x = np.random.default_rng(0).normal(size=(2, 64, 64, 3)).astype('float32')
  for key, value in model(x).items():
    np.testing.assert_allclose(clone(x)[key], value, atol=1e-5)


def test_groups_not_dividing_channels_names_the_layer():
  with pytest.raises(ValueError, match=r'stem_norm.*channels \(16\) must be a '
                     r'multiple of `groups`; received groups=5'):
    resnet_gn.ResNetGN(18, SPEC, depth_multiplier=0.25, groups=5)


def test_unknown_depth_raises():
  with pytest.raises(ValueError, match=r'Unknown ResNet depth model_id=19'):
    resnet_gn.ResNetGN(19, SPEC)


def test_batch_norm_checkpoint_cannot_load_silently_into_gn_model(tmp_path):
  small = dict(model_id=18, input_specs=SPEC, depth_multiplier=0.25, groups=8)
  bn = resnet_gn.ResNetGN(norm='batch_norm', **small)
  path = tf.train.Checkpoint(model=bn).write(str(tmp_path / 'bn'))
  gn = resnet_gn.ResNetGN(**small)
  status = tf.train.Checkpoint(model=gn).read(path).expect_partial()
  with pytest.raises(AssertionError, match='gn_gamma'):
    status.assert_existing_objects_matched()


def test_cifar_stem_and_three_stages_keep_8x8_last_maps_at_32_px():
  spec = tf_keras.layers.InputSpec(shape=[None, 32, 32, 3])
  model = resnet_gn.ResNetGN(18, spec, depth_multiplier=0.25, groups=8,
                             stem_type='cifar', num_stages=3)
  assert {k: v.as_list() for k, v in model.output_specs.items()} == {
      '2': [None, 32, 32, 16], '3': [None, 16, 16, 32],
      '4': [None, 8, 8, 64]}
  assert model.get_layer('stem_conv').kernel_size == (3, 3)
  assert 'stem_pool' not in [layer.name for layer in model.layers]
  # The same blocks as the ImageNet stem's first three stages.
  imagenet = resnet_gn.ResNetGN(18, spec, depth_multiplier=0.25, groups=8,
                                num_stages=3)
  names = lambda m: {w.name for w in m.weights}  # noqa: E731
  assert names(model) == names(imagenet)
  rebuilt = resnet_gn.ResNetGN.from_config(model.get_config())
  assert rebuilt.get_config()['stem_type'] == 'cifar'
  assert len(rebuilt.output_specs) == 3


def test_bad_stem_and_stage_count_raise():
  with pytest.raises(ValueError, match="Unknown stem_type='cifar10'"):
    resnet_gn.ResNetGN(18, SPEC, stem_type='cifar10')
  with pytest.raises(ValueError, match=r'num_stages=5 must be in 1\.\.4'):
    resnet_gn.ResNetGN(18, SPEC, num_stages=5)


@pytest.mark.parametrize('frozen_stages,fixed', [
    (0, ()), (1, ('stem_',)), (2, ('stem_', 'l2_')),
    (3, ('stem_', 'l2_', 'l3_'))])
def test_frozen_stages_fix_the_stem_and_the_first_block_groups(frozen_stages,
                                                               fixed):
  model = resnet_gn.ResNetGN(18, depth_multiplier=0.25, groups=4,
                             norm='batch_norm', frozen_stages=frozen_stages)
  trainable = {w.name for w in model.trainable_weights}
  prefixes = ('stem_', 'l2_', 'l3_', 'l4_', 'l5_')
  assert {p for p in prefixes if any(n.startswith(p) for n in trainable)} == (
      set(prefixes) - set(fixed))
  assert len(model.weights) > len(trainable) or not fixed
  frozen_bn = [layer for layer in model.layers
               if layer.name == 'stem_norm'][0]
  assert frozen_bn.trainable == (frozen_stages == 0)
  assert resnet_gn.ResNetGN.from_config(model.get_config()).get_config()[
      'frozen_stages'] == frozen_stages


def test_frozen_stages_beyond_the_model_raise():
  with pytest.raises(ValueError, match=r'frozen_stages=6 must be in 0\.\.5'):
    resnet_gn.ResNetGN(18, depth_multiplier=0.25, groups=4, frozen_stages=6)
