"""Training-script tests: MirroredStrategy steps, XLA, resume, mixed precision.

The tests share one digits dataset (made by the task on first use, as the
experiment does) and one short training run: see conftest.py.
"""

import os

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from official.core import task_factory
from official.core import train_utils
from official.projects.group_norm import registry_imports  # noqa: F401 (registers the experiments)
from official.projects.group_norm import runner
from official.projects.group_norm import train
from official.projects.group_norm.configs import common
from official.projects.group_norm.modeling import norms
from tests.official.projects.group_norm import helpers


@pytest.mark.slow
def test_task_makes_its_data_on_first_use(trained, data_dir):
  del trained  # Training read the data; the task wrote it.
  assert sorted(os.listdir(data_dir)) == ['train.tfrecord',
                                          'validation.tfrecord']


@pytest.mark.slow
def test_mirrored_step_on_two_cpu_replicas(trained):
  params, model_dir, model = trained
  assert train.build_strategy(params, 2).num_replicas_in_sync == 2
  assert helpers.checkpoint_step_and_weights(model_dir)[0] == 2
  assert os.path.isfile(os.path.join(model_dir, 'params.yaml'))
  assert set(norms.count_norm_layers(model.backbone)) == {
      'GroupNormalization'}
  assert all(np.all(np.isfinite(w)) for w in model.get_weights())


@pytest.mark.slow
def test_resume_continues_the_step_count(trained, data_dir, tmp_path):
  _, model_dir, _ = trained
  resumed = str(tmp_path / 'resumed')
  helpers.copy_checkpoints(model_dir, resumed)
  params = helpers.digits_params(data_dir, train_steps=3, global_batch=2)
  train.run(params, resumed, 'train', cpu_replicas=2, run_post_eval=False)
  # 2 restored + 1 new, not 3 from 0.
  assert helpers.checkpoint_step_and_weights(resumed)[0] == 3


@pytest.mark.slow
def test_train_and_eval_evaluates_its_last_step_once(trained, data_dir,
                                                     tmp_path):
  _, model_dir, _ = trained
  run_dir = str(tmp_path / 'run')
  helpers.copy_checkpoints(model_dir, run_dir)
  params = helpers.digits_params(data_dir, train_steps=3, global_batch=2)
  _, logs = train.run(params, run_dir, 'train_and_eval', cpu_replicas=2)
  evals = [h['step'] for h in runner.read_history(run_dir)
           if h['kind'] == 'eval']
  assert evals == [3] and 'accuracy' in logs  # Not a second one at 3.
  # A finished run run again trains nothing and is evaluated anew.
  _, again = train.run(params, run_dir, 'train_and_eval', cpu_replicas=2)
  assert float(again['accuracy']) == pytest.approx(float(logs['accuracy']))
  assert [h['step'] for h in runner.read_history(run_dir)
          if h['kind'] == 'eval'] == [3]  # Its entry replaced, not doubled.


@pytest.mark.slow
def test_train_step_compiles_with_xla_static_shapes(data_dir):
  params = helpers.digits_params(data_dir)
  task = task_factory.get_task(params.task)
  model = task.build_model()
  optimizer = tf_keras.optimizers.SGD(0.01)
  images = tf.random.uniform([2, 32, 32, 3])
  labels = tf.constant([3, 7])

  @tf.function(jit_compile=True)
  def step(images, labels):
    with tf.GradientTape() as tape:
      logits = model(images, training=True)
      loss = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(
          labels, logits, from_logits=True))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss

  first = step(images, labels)
  for _ in range(3):
    last = step(images, labels)
  assert np.isfinite(first.numpy()) and last < first


@pytest.mark.slow
def test_mixed_bfloat16_builds_and_runs_a_step(data_dir, tmp_path):
  params = helpers.digits_params(data_dir, train_steps=1,
                         mixed_precision_dtype='mixed_bfloat16')
  try:
    model, _ = train.run(params, str(tmp_path), 'train', cpu_replicas=2,
                         run_post_eval=False)
    gn_layers = [layer for layer in model.backbone.layers
                 if type(layer).__name__ == 'GroupNormalization']
    assert gn_layers and gn_layers[0].compute_dtype == 'bfloat16'
    assert gn_layers[0].gamma.dtype == tf.float32
  finally:
    tf_keras.mixed_precision.set_global_policy('float32')


def test_batch_norm_is_one_override(data_dir):
  params = helpers.digits_params(data_dir)
  params.override({'task': {'model': {'backbone': {'resnet_gn': {
      'norm': 'batch_norm'}}}}})
  model = task_factory.get_task(params.task).build_model()
  assert set(norms.count_norm_layers(model.backbone)) == {
      'BatchNormalization'}


def test_model_check_refuses_a_model_of_the_wrong_norm(data_dir):
  params = helpers.digits_params(data_dir)
  model = task_factory.get_task(params.task).build_model()
  params.override({'task': {'model': {'backbone': {'resnet_gn': {
      'norm': 'batch_norm'}}}}})
  with pytest.raises(ValueError, match=r"The backbone built for norm "
                     r"'batch_norm' contains \{'GroupNormalization': 21\}"):
    norms.check_model_norms(model, params.task.model)


# Bad input: a clear error, and no run folder left behind.


def _fails_cleanly(params, tmp_path, match, error=ValueError):
  model_dir = tmp_path / 'run'
  with pytest.raises(error, match=match):
    train.run(params, str(model_dir), 'train', cpu_replicas=2,
              run_post_eval=False)
  assert not model_dir.exists()


def test_unknown_norm_name(data_dir, tmp_path):
  params = helpers.digits_params(data_dir)
  params.override({'task': {'model': {'backbone': {'resnet_gn': {
      'norm': 'group_nrom'}}}}})
  _fails_cleanly(params, tmp_path, r"Unknown norm 'group_nrom'.*group_norm")


def test_groups_not_dividing_the_channels_names_the_layer(data_dir, tmp_path):
  params = helpers.digits_params(data_dir)
  params.override({'task': {'model': {'backbone': {'resnet_gn': {
      'groups': 7}}}}})
  _fails_cleanly(params, tmp_path,
                 r"Layer 'stem_norm': The number of channels \(16\) must be "
                 r"a multiple of `groups`; received groups=7")


@pytest.mark.parametrize('path, match', [
    ('', r'task.train_data.input_path is empty'),
    ('/nonexistent/train*.tfrecord',
     r"task.train_data.input_path='/nonexistent/train\*.tfrecord' matches "
     'no file'),
])
def test_missing_data_path(data_dir, tmp_path, path, match):
  params = helpers.digits_params(data_dir)
  params.override({'task': {'make_digits_if_missing': False,
                            'train_data': {'input_path': path}}})
  _fails_cleanly(params, tmp_path, match)


def test_empty_data_file(data_dir, tmp_path):
  empty = tmp_path / 'empty.tfrecord'
  empty.write_bytes(b'')
  params = helpers.digits_params(data_dir)
  params.override({'task': {'make_digits_if_missing': False,
                            'train_data': {'input_path': str(empty)}}})
  _fails_cleanly(params, tmp_path, r'all 1 matching file\(s\) are empty')


@pytest.mark.slow
def test_corrupt_tfrecord(data_dir, tmp_path):
  del data_dir
  corrupt = tmp_path / 'corrupt.tfrecord'
  with tf.io.TFRecordWriter(str(corrupt)) as writer:
    for _ in range(4):
      writer.write(b'x' * 1000)
  data = bytearray(corrupt.read_bytes())
  data[1500:1600] = b'\xff' * 100  # Damage the second record's payload.
  corrupt.write_bytes(bytes(data))
  params = helpers.digits_params(str(tmp_path / 'unused'))
  params.override({'task': {'make_digits_if_missing': False,
                            'train_data': {'input_path': str(corrupt)}}})
  _fails_cleanly(params, tmp_path / 'x',
                 r"Corrupt input data \(corrupted record at \d+\) in "
                 r"task.train_data.input_path='.*corrupt.tfrecord'")


def test_deterministic_needs_a_seed(data_dir, tmp_path):
  with pytest.raises(ValueError, match='needs a seed'):
    train.run(helpers.digits_params(data_dir), str(tmp_path), 'train',
              deterministic=True)


def test_unknown_experiment_lists_the_projects():
  with pytest.raises(ValueError, match=r"Unknown experiment 'resnet_gn_digit'"
                     r".*\['maskrcnn_gn_fashion_scenes', 'maskrcnn_gn_shapes', "
                     r"'maskrcnn_resnetfpn_gn_coco', "
                     r"'maskrcnn_resnetfpn_gn_coco_scratch', "
                     r"'resnet50_gn_imagenet', 'resnet_gn_colour_digits', "
                     r"'resnet_gn_digits', 'resnet_gn_fashion_photos', "
                     r"'resnet_gn_fashion_plain', "
                     r"'resnet_gn_fashion_scenes_pretrain', "
                     r"'resnet_gn_shapes_pretrain', "
                     r"'video_i3d_gn_clips', 'video_i3d_gn_fashion_clips', "
                     r"'video_i3d_gn_fashion_clips_long', "
                     r"'video_i3d_r50_gn_kinetics400'\]"):
    common.get_exp_config('resnet_gn_digit')


@pytest.mark.parametrize('via', ['params_override', 'config_file'])
def test_unknown_config_key(tmp_path, via):
  override = 'task.model.backbone.resnet_gn.nrom=group_norm'
  config_file = tmp_path / 'bad.yaml'
  config_file.write_text(
      'task:\n  model:\n    backbone:\n      resnet_gn:\n        nrom: x\n')
  options = train_utils.ParseConfigOptions(
      experiment='resnet_gn_digits',
      config_file=[str(config_file)] if via == 'config_file' else [],
      params_override=override if via == 'params_override' else '')
  with pytest.raises(KeyError, match=r"The key 'nrom' does not exist in "
                     r"<class '.*ResNetGN'>"):
    train_utils.parse_configuration(options)


def test_group_size_reaches_the_backbone_through_the_config(data_dir):
  params = helpers.digits_params(data_dir)
  params.override({'task': {'model': {'backbone': {'resnet_gn': {
      'groups': None, 'group_size': 4}}}}})
  model = task_factory.get_task(params.task).build_model()
  gn_layers = [layer for layer in model.backbone.layers
               if type(layer).__name__ == 'GroupNormalization']
  assert gn_layers and all((layer.groups, layer.group_size) == (None, 4)
                           for layer in gn_layers)
  # The stem has 16 channels: 4 groups of 4.
  assert model.backbone.get_layer('stem_norm')._groups == 4  # noqa: SLF001


def test_settings_that_cannot_apply_are_refused(data_dir):
  params = helpers.digits_params(data_dir)
  params.override({'task': {'model': {'norm_activation': {
      'use_sync_bn': True}}}})
  with pytest.raises(ValueError, match="use_sync_bn=True does not apply"):
    task_factory.get_task(params.task).build_model()
  params = helpers.digits_params(data_dir)
  params.override({'task': {'model': {'backbone': {'resnet_gn': {
      'group_size': 4}}}}})  # groups=32 is still set.
  with pytest.raises(ValueError, match='Pass exactly one of `groups` and '
                     '`group_size`; received groups=8 and group_size=4'):
    task_factory.get_task(params.task).build_model()
