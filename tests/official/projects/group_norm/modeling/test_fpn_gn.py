"""FPN-GN: level shapes, norm placement, builder, errors."""

import types

import pytest
import tensorflow as tf
import tf_keras

from official.projects.group_norm.configs import decoders as decoder_cfg
from official.projects.group_norm.modeling import fpn_gn
from official.projects.group_norm.modeling import norms
from official.projects.group_norm.modeling import resnet_gn
from official.vision.configs import common as mg_common
from official.vision.modeling.decoders import factory


@pytest.fixture(scope='module')
def backbone():
  return resnet_gn.ResNetGN(
      18, input_specs=tf_keras.layers.InputSpec(shape=[None, 64, 64, 3]),
      depth_multiplier=0.25, groups=8)


def test_levels_and_shapes(backbone):
  fpn = fpn_gn.FPNGN(backbone.output_specs, min_level=2, max_level=6,
                     num_filters=32, groups=8)
  features = fpn(backbone(tf.random.normal([2, 64, 64, 3])))
  assert {k: tuple(v.shape) for k, v in features.items()} == {
      '2': (2, 16, 16, 32), '3': (2, 8, 8, 32), '4': (2, 4, 4, 32),
      '5': (2, 2, 2, 32), '6': (2, 1, 1, 32)}
  assert fpn.output_specs['6'].as_list() == [None, 1, 1, 32]


def test_a_norm_after_every_lateral_and_output_conv_and_no_bias(backbone):
  fpn = fpn_gn.FPNGN(backbone.output_specs, num_filters=32, groups=8)
  assert norms.count_norm_layers(fpn) == {'GroupNormalization': 8}  # 4 + 4.
  convs = [layer for layer in fpn.layers
           if isinstance(layer, tf_keras.layers.Conv2D)]
  assert len(convs) == 8 and not any(c.use_bias for c in convs)
  for conv in convs:  # Each conv feeds its own norm.
    norm = fpn.get_layer(conv.name.replace('_conv', '_norm'))
    assert type(norm).__name__ == 'GroupNormalization'
    assert norm.groups == 8


def test_no_norm_is_a_plain_fpn_with_conv_biases(backbone):
  fpn = fpn_gn.FPNGN(backbone.output_specs, min_level=2, max_level=6,
                     num_filters=32, norm=None)
  assert not norms.count_norm_layers(fpn)
  convs = [layer for layer in fpn.layers
           if isinstance(layer, tf_keras.layers.Conv2D)]
  assert len(convs) == 8 and all(c.use_bias for c in convs)
  # Lin et al.'s FPN: a 1x1 lateral and a 3x3 output conv per level, each
  # with a bias, and nothing else that trains.
  widths = [backbone.output_specs[str(level)][-1] for level in (2, 3, 4, 5)]
  assert fpn.count_params() == sum(
      (c + 1) * 32 + (9 * 32 + 1) * 32 for c in widths)
  features = fpn(backbone(tf.random.normal([2, 64, 64, 3])))
  assert features['6'].shape == (2, 1, 1, 32)


def test_batch_norm_is_one_argument(backbone):
  fpn = fpn_gn.FPNGN(backbone.output_specs, num_filters=32, norm='batch_norm')
  assert norms.count_norm_layers(fpn) == {'BatchNormalization': 8}


def test_builder_from_config_through_model_gardens_factory(backbone):
  model_config = types.SimpleNamespace(
      decoder=decoder_cfg.Decoder(type='fpn_gn', fpn_gn=decoder_cfg.FPNGN(
          num_filters=32, groups=4)),
      min_level=3, max_level=5,
      norm_activation=mg_common.NormActivation(
          norm_momentum=0.9, norm_epsilon=1e-4, use_sync_bn=False))
  fpn = factory.build_decoder(backbone.output_specs, model_config)
  assert isinstance(fpn, fpn_gn.FPNGN)
  assert sorted(fpn.output_specs) == ['3', '4', '5']
  gn_layers = [layer for layer in fpn.layers
               if type(layer).__name__ == 'GroupNormalization']
  assert len(gn_layers) == 6
  assert {(n.groups, n.epsilon) for n in gn_layers} == {(4, 1e-4)}


def test_no_norm_from_the_config_passes_the_model_norm_check(backbone):
  model_config = types.SimpleNamespace(
      decoder=decoder_cfg.Decoder(type='fpn_gn', fpn_gn=decoder_cfg.FPNGN(
          num_filters=32)),
      min_level=3, max_level=5,
      norm_activation=mg_common.NormActivation(use_sync_bn=False))
  model_config.decoder.override({'fpn_gn': {'norm': None}})
  fpn = factory.build_decoder(backbone.output_specs, model_config)
  norms.check_model_norms(types.SimpleNamespace(decoder=fpn), model_config)
  assert not norms.count_norm_layers(fpn)
  with pytest.raises(ValueError, match="decoder built for norm None"):
    norms.check_model_norms(
        types.SimpleNamespace(decoder=fpn_gn.FPNGN(
            backbone.output_specs, min_level=3, max_level=5, num_filters=32,
            groups=8)), model_config)


def test_config_round_trip(backbone):
  fpn = fpn_gn.FPNGN(backbone.output_specs, num_filters=32, groups=8)
  again = fpn_gn.FPNGN.from_config(fpn.get_config())
  assert again.count_params() == fpn.count_params()


def test_groups_not_dividing_the_filters_names_the_layer(backbone):
  with pytest.raises(ValueError, match=r"Layer 'lateral_2_norm': The number "
                     r'of channels \(32\) must be a multiple of `groups`'):
    fpn_gn.FPNGN(backbone.output_specs, num_filters=32, groups=5)


def test_levels_the_backbone_cannot_feed(backbone):
  with pytest.raises(ValueError, match=r'FPN levels 1\.\.6 .* the backbone '
                     r"has levels \[2, 3, 4, 5\]"):
    fpn_gn.FPNGN(backbone.output_specs, min_level=1)
