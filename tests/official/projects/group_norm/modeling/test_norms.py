"""Tests for the norm factory."""

import pytest
import tf_keras

from gn_keras.tf_keras import GroupNormalization
from official.projects.group_norm.modeling import norms

BN_KWARGS = dict(axis=-1, momentum=0.9, epsilon=1e-3, trainable=True,
                 name='n', gamma_initializer='zeros', beta_regularizer=None,
                 gamma_regularizer=None)


@pytest.mark.parametrize('name,cls,groups,trainable', [
    ('batch_norm', tf_keras.layers.BatchNormalization, None, True),
    ('sync_batch_norm', tf_keras.layers.BatchNormalization, None, True),
    ('frozen_batch_norm', tf_keras.layers.BatchNormalization, None, False),
    ('group_norm', GroupNormalization, 8, True),
    ('layer_norm', GroupNormalization, 1, True),
    ('instance_norm', GroupNormalization, -1, True),
])
def test_every_name_takes_batch_norm_kwargs(name, cls, groups, trainable):
  layer = norms.get_norm(name, groups=8)(**BN_KWARGS)
  assert type(layer) is cls  # pylint: disable=unidiomatic-typecheck
  assert layer.name == 'n' and layer.trainable == trainable
  assert layer.epsilon == 1e-3
  if groups is not None:
    assert layer.groups == groups
  else:
    assert layer.synchronized == (name == 'sync_batch_norm')
  layer.build((None, 4, 4, 16))
  assert float(tf_keras.backend.get_value(layer.gamma).sum()) == 0.0
  assert set(norms.NORM_NAMES) >= {name}


def test_epsilon_override_for_group_norms_only():
  gn = norms.get_norm('group_norm', groups=4, epsilon=1e-5)(**BN_KWARGS)
  assert gn.epsilon == 1e-5


def test_callable_is_returned_as_is():
  def make(**kwargs):
    return tf_keras.layers.LayerNormalization(axis=kwargs['axis'])
  assert norms.get_norm(make) is make


def test_unknown_name_lists_the_known_ones():
  with pytest.raises(ValueError, match=r"Unknown norm 'gruop_norm'; known "
                     r'norms: batch_norm, sync_batch_norm, frozen_batch_norm, '
                     r'group_norm, layer_norm, instance_norm'):
    norms.get_norm('gruop_norm')
