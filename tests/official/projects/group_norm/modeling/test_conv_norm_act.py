"""The conv -> norm -> activation unit: bias rule, WS, names, activation."""

import numpy as np
import pytest
import tf_keras

from gn_keras.tf_keras import GroupNormalization
from official.projects.group_norm.modeling import conv_norm_act
from official.projects.group_norm.modeling import norms
from official.projects.group_norm.modeling import ws_conv

GN = norms.NormSpec('group_norm', groups=4)
NONE = norms.NormSpec(None)


def _run(unit, shape=(2, 6, 6, 8)):
  inputs = tf_keras.Input(shape[1:])
  model = tf_keras.Model(inputs, unit(inputs))
  return model, model(np.random.default_rng(0).normal(size=shape))


def test_a_conv_before_a_norm_has_no_bias_and_one_without_a_norm_has_one():
  unit = conv_norm_act.conv_norm_act(GN, 8, 3, conv_name='c', norm_name='n')
  assert not unit.conv.use_bias and isinstance(unit.norm, GroupNormalization)
  assert (unit.conv.name, unit.norm.name) == ('c', 'n')
  plain = conv_norm_act.conv_norm_act(NONE, 8, 3, conv_name='c')
  assert plain.conv.use_bias and plain.norm is None and plain.act is None


def test_activation_is_a_named_layer_or_a_function():
  named = conv_norm_act.conv_norm_act(GN, 8, 3, conv_name='c', norm_name='n',
                                      activation='relu', act_name='a')
  model, y = _run(named)
  assert model.get_layer('a').activation is tf_keras.activations.relu
  assert float(np.min(y)) >= 0.0
  bare = conv_norm_act.conv_norm_act(GN, 8, 3, conv_name='c', norm_name='n',
                                     activation='relu')
  assert bare.act is tf_keras.activations.relu


def test_zero_gamma_makes_the_unit_output_beta():
  unit = conv_norm_act.conv_norm_act(GN, 8, 3, conv_name='c', norm_name='n',
                                     zero_gamma=True)
  _, y = _run(unit)
  np.testing.assert_array_equal(np.asarray(y), 0.0)


def test_weight_standardization_needs_a_norm_and_has_no_bias():
  unit = conv_norm_act.conv_norm_act(GN, 8, 3, conv_name='c', norm_name='n',
                                     weight_standardization=True)
  assert isinstance(unit.conv, ws_conv.WSConv2D)
  with pytest.raises(ValueError, match='needs a norm after it'):
    conv_norm_act.conv(NONE, 8, 3, 'c', weight_standardization=True)


def test_a_norm_needs_a_name_and_3d_convolutions_work():
  with pytest.raises(ValueError, match='the norm layer needs a name'):
    conv_norm_act.conv_norm_act(GN, 8, 3, conv_name='c')
  unit = conv_norm_act.conv_norm_act(GN, 8, (1, 3, 3), conv_name='c',
                                     norm_name='n',
                                     conv_class=tf_keras.layers.Conv3D)
  _, y = _run(unit, (2, 3, 4, 4, 8))
  assert y.shape == (2, 3, 4, 4, 8)
