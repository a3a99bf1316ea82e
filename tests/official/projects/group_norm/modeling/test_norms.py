"""Tests for the norm factory, its table and the model-level norm check."""

import dataclasses
import re
import types

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from gn_keras.tf_keras import GroupNormalization
from official.projects.group_norm import registry_imports  # noqa: F401 (registers the experiments)
from official.projects.group_norm.configs import common
from official.projects.group_norm.modeling import norms
from official.projects.group_norm.modeling import resnet_gn
from official.vision.configs import common as mg_common

BN_KWARGS = dict(axis=-1, momentum=0.9, epsilon=1e-3, trainable=True,
                 name='n', gamma_initializer='zeros', beta_regularizer=None,
                 gamma_regularizer=None)


@pytest.mark.parametrize('name,cls,groups,trainable', [
    ('batch_norm', tf_keras.layers.BatchNormalization, None, True),
    ('sync_batch_norm', tf_keras.layers.BatchNormalization, None, True),
    ('frozen_batch_norm', tf_keras.layers.BatchNormalization, None, False),
    ('batch_renorm', tf_keras.layers.BatchNormalization, None, True),
    ('group_norm', GroupNormalization, 8, True),
    ('layer_norm', GroupNormalization, 1, True),
    ('instance_norm', GroupNormalization, -1, True),
])
def test_every_name_takes_batch_norm_kwargs(name, cls, groups, trainable):
  layer = norms.get_norm(name, groups=8)(**BN_KWARGS)
  assert type(layer) is cls
  assert norms.NORMS[name].layer_classes == (cls,)  # The table says so.
  assert layer.name == 'n' and layer.trainable == trainable
  assert layer.epsilon == 1e-3  # The caller's: epsilon has one home.
  if groups is not None:
    assert layer.groups == groups
  else:
    assert layer.synchronized == (name == 'sync_batch_norm')
    assert layer.renorm == (name == 'batch_renorm')
  layer.build((None, 4, 4, 16))
  assert float(tf_keras.backend.get_value(layer.gamma).sum()) == 0.0


def test_names_are_the_table():
  assert norms.NORM_NAMES == tuple(norms.NORMS) == (
      'batch_norm', 'sync_batch_norm', 'frozen_batch_norm', 'batch_renorm',
      'group_norm', 'layer_norm', 'instance_norm')


@pytest.mark.parametrize('no_norm', [None, ''])
def test_none_and_empty_mean_no_norm(no_norm):
  assert norms.get_norm(no_norm) is None


def test_group_size_instead_of_groups():
  layer = norms.get_norm('group_norm', groups=None, group_size=4)(**BN_KWARGS)
  layer.build((None, 4, 4, 16))
  assert (layer.groups, layer.group_size, layer._groups) == (None, 4, 4)  # noqa: SLF001


@pytest.mark.parametrize('groups,group_size,message', [
    (32, 4, 'Pass exactly one of `groups` and `group_size`; received '
     'groups=32 and group_size=4. Set groups=None to use group_size.'),
    (None, None, 'Pass one of `groups` and `group_size`'),
    (None, 0, '`group_size` must be a positive integer; received '
     'group_size=0.'),
    (0, None, '`groups` must be a positive integer or -1'),
])
def test_bad_group_settings_fail_with_the_layers_messages(groups, group_size,
                                                          message):
  with pytest.raises(ValueError, match=re.escape(message)):
    norms.get_norm('group_norm', groups=groups, group_size=group_size)


def test_layer_and_instance_norm_fix_their_groups():
  ln = norms.get_norm('layer_norm', groups=None, group_size=4)(**BN_KWARGS)
  assert (ln.groups, ln.group_size) == (1, None)


def test_callable_is_returned_as_is():
  def make(**kwargs):
    return tf_keras.layers.LayerNormalization(axis=kwargs['axis'])
  assert norms.get_norm(make) is make


def test_unknown_name_lists_the_known_ones():
  with pytest.raises(ValueError, match=r"Unknown norm 'gruop_norm'; known "
                     r'norms: batch_norm, sync_batch_norm, frozen_batch_norm, '
                     r'batch_renorm, group_norm, layer_norm, instance_norm'):
    norms.get_norm('gruop_norm')


def test_norm_spec_layers_set_gamma_start_and_decay():
  regularizer = tf_keras.regularizers.L2(1e-4)
  spec = norms.NormSpec('group_norm', 4, None, epsilon=1e-5, momentum=0.9)
  one = spec.layer('one', regularizer=regularizer)
  zero = spec.layer('zero', zero_gamma=True)
  x = tf_keras.Input((4, 4, 8))
  tf_keras.Model(x, [one(x), zero(x)])
  assert isinstance(one, GroupNormalization) and one.groups == 4
  np.testing.assert_array_equal(one.gamma.numpy(), np.ones(8))
  np.testing.assert_array_equal(zero.gamma.numpy(), np.zeros(8))
  assert one.gamma_regularizer is regularizer
  assert one.beta_regularizer is regularizer
  assert zero.gamma_regularizer is None
  assert one.epsilon == 1e-5 and spec.normalizes


def test_norm_spec_of_a_part_config_and_its_constructor_arguments():
  part = types.SimpleNamespace(norm='batch_norm', groups=None, group_size=4)
  norm_activation = mg_common.NormActivation(
      norm_momentum=0.8, norm_epsilon=1e-4, use_sync_bn=False)
  spec = norms.NormSpec.of_part(part, norm_activation)
  assert spec == norms.NormSpec('batch_norm', None, 4, 1e-4, 0.8)
  assert spec.part_arguments() == dict(
      norm='batch_norm', groups=None, group_size=4, norm_epsilon=1e-4,
      norm_momentum=0.8)
  layer = spec.layer('bn')
  assert isinstance(layer, tf_keras.layers.BatchNormalization)
  assert (layer.momentum, layer.epsilon) == (0.8, 1e-4)
  assert dataclasses.asdict(spec)['kind'] == 'batch_norm'  # Serializable.


def test_norm_spec_of_no_norm_builds_none_and_bad_specs_raise_at_once():
  assert norms.NormSpec(None).layer('n') is None
  assert not norms.NormSpec(None).normalizes
  with pytest.raises(ValueError, match="Unknown norm 'gruop_norm'"):
    norms.NormSpec('gruop_norm')
  with pytest.raises(ValueError, match='exactly one of'):
    norms.NormSpec('group_norm', groups=4, group_size=2)


def test_backbones_refuse_no_norm():
  with pytest.raises(ValueError, match='ResNetGN needs a norm'):
    resnet_gn.ResNetGN(model_id=18, norm=None)


def test_norm_kwargs_come_from_norm_activation_and_refuse_use_sync_bn():
  config = mg_common.NormActivation(norm_momentum=0.8, norm_epsilon=1e-4,
                                    use_sync_bn=False)
  assert norms.norm_kwargs(config) == {'momentum': 0.8, 'epsilon': 1e-4}
  config.use_sync_bn = True
  with pytest.raises(ValueError, match="use_sync_bn=True does not apply .* "
                     "set their `norm` to 'sync_batch_norm'"):
    norms.norm_kwargs(config)


def _stack(*layers):
  return tf_keras.Sequential([tf_keras.Input((4, 4, 8)), *layers])


def test_count_norm_layers_counts_by_class_foreign_norms_included():
  model = _stack(GroupNormalization(groups=2), GroupNormalization(groups=4),
                 tf_keras.layers.BatchNormalization(),
                 tf_keras.layers.LayerNormalization())
  assert norms.count_norm_layers(model) == {
      'GroupNormalization': 2, 'BatchNormalization': 1,
      'LayerNormalization': 1}
  assert norms.count_norm_layers([model, model]) == norms.count_norm_layers(
      model)  # A layer reached twice counts once.


def test_check_norms_reads_the_table():
  gn = _stack(GroupNormalization(groups=2))
  norms.check_norms(gn, 'group_norm')
  norms.check_norms(gn, 'layer_norm')  # Same class: the table's row says so.
  norms.check_norms(_stack(tf_keras.layers.Conv2D(8, 1)), None)
  norms.check_norms(_stack(tf_keras.layers.Conv2D(8, 1)), '')
  with pytest.raises(ValueError, match=r"The stem built for norm 'batch_norm' "
                     r"contains \{'GroupNormalization': 1\}; expected only "
                     r"\['BatchNormalization'\]"):
    norms.check_norms(gn, 'batch_norm', what='stem')
  with pytest.raises(ValueError, match=r'expected only \[\]'):
    norms.check_norms(gn, None)
  mixed = _stack(GroupNormalization(groups=2),
                 tf_keras.layers.LayerNormalization())
  with pytest.raises(ValueError, match="'LayerNormalization': 1"):
    norms.check_norms(mixed, 'group_norm')


def test_expected_part_norms_reads_whatever_one_of_is_active():
  model = common.get_exp_config('resnet_gn_digits').task.model
  assert norms.expected_part_norms(model) == {'backbone': 'group_norm'}
  model.backbone.type = 'resnet'  # Model Garden's own: BN.
  assert norms.expected_part_norms(model) == {'backbone': 'batch_norm'}


def test_frozen_batch_norm_stays_frozen_while_the_model_trains():
  backbone = resnet_gn.ResNetGN(
      18, input_specs=tf_keras.layers.InputSpec(shape=[None, 32, 32, 3]),
      depth_multiplier=0.25, norm='frozen_batch_norm')
  bns = [m for m in backbone.submodules
         if isinstance(m, tf_keras.layers.BatchNormalization)]
  rng = np.random.default_rng(0)
  for bn in bns:  # "Pretrained" statistics and affine, not the defaults.
    for weight in bn.weights:
      weight.assign(rng.uniform(0.5, 1.5, weight.shape).astype('float32'))
  frozen = [w.numpy().copy() for bn in bns for w in bn.weights]
  head = tf_keras.layers.Dense(3)
  optimizer = tf_keras.optimizers.SGD(0.1)
  images = tf.random.normal([4, 32, 32, 3])
  labels = tf.constant([0, 1, 2, 0])
  for _ in range(2):
    with tf.GradientTape() as tape:
      logits = head(tf.reduce_mean(backbone(images, training=True)['5'],
                                   [1, 2]))
      loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
          labels, logits))
    variables = backbone.trainable_variables + head.trainable_variables
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
  assert not any(bn.trainable_weights for bn in bns)
  for before, after in zip(frozen, (w.numpy() for bn in bns
                                    for w in bn.weights)):
    np.testing.assert_array_equal(before, after)
  # A training-mode call normalizes with the moving statistics.
  bn = bns[0]
  x = tf.random.normal([2, 4, 4, bn.gamma.shape[0]])
  gamma, beta, mean, var = (w.numpy() for w in bn.weights)
  np.testing.assert_allclose(
      bn(x, training=True),
      (x - mean) / np.sqrt(var + bn.epsilon) * gamma + beta, atol=1e-5)


def test_sync_batch_norm_takes_statistics_over_all_replicas():
  strategy = tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])
  x = np.random.default_rng(1).normal(
      np.arange(4)[:, None, None, None], 1.0, (4, 3, 3, 8)).astype('float32')
  with strategy.scope():
    synced = norms.get_norm('sync_batch_norm')(momentum=0.5, epsilon=1e-3)
    synced.build((None, 3, 3, 8))
  # Each replica sees 2 of the 4 samples, whose means differ by design.
  dataset = tf.data.Dataset.from_tensor_slices(x).batch(4)
  batch = next(iter(strategy.experimental_distribute_dataset(dataset)))
  outputs = strategy.run(tf.function(lambda b: synced(b, training=True)),
                         args=(batch,))
  got = np.concatenate(strategy.experimental_local_results(outputs))
  # Unfused, as synchronized BN is: fused BN's moving variance has Bessel's
  # correction, which the synchronized one does not apply.
  alone = norms.get_norm('batch_norm')(momentum=0.5, epsilon=1e-3,
                                       fused=False)
  np.testing.assert_allclose(got, alone(x, training=True), atol=1e-5)
  np.testing.assert_allclose(synced.moving_mean.numpy(),
                             alone.moving_mean.numpy(), atol=1e-6)
  np.testing.assert_allclose(synced.moving_variance.numpy(),
                             alone.moving_variance.numpy(), atol=1e-5)


def test_batch_renorm_clips_its_correction_to_constants():
  layer = norms.get_norm('batch_renorm')(momentum=0.9, epsilon=1e-3)
  assert layer.renorm and not layer.fused
  assert layer.renorm_clipping == {'rmax': 1.5, 'rmin': 1 / 1.5, 'dmax': 0.5}
  x = np.random.default_rng(2).normal(3.0, 2.0, (4, 3, 3, 8)).astype(
      'float32')
  # Fresh moving statistics (mean 0, variance 1) are far from the batch's:
  # r and d clip, so the output is not the batch-normalized one.
  clipped = layer(x, training=True)
  plain = norms.get_norm('batch_norm')(momentum=0.9, epsilon=1e-3)(
      x, training=True)
  assert np.abs(np.asarray(clipped) - np.asarray(plain)).max() > 0.1


def test_a_configured_part_the_model_lacks_raises_unless_turned_off():
  model_config = common.get_exp_config('resnet_gn_digits').task.model
  with pytest.raises(ValueError, match=r"The model has no backbone, which "
                     r"its config sets \(norm 'group_norm'\)"):
    norms.check_model_norms(types.SimpleNamespace(), model_config)
  maskrcnn = common.get_exp_config('maskrcnn_gn_shapes').task.model
  assert 'mask_head' in norms.expected_part_norms(maskrcnn)
  assert norms.disabled_parts(maskrcnn) == set()
  maskrcnn.include_mask = False
  assert norms.disabled_parts(maskrcnn) == {'mask_head'}
