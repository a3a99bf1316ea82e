"""Helpers the group_norm project tests share (plain functions, no fixtures)."""

import os

import tensorflow as tf

from official.core import exp_factory
from official.core import task_factory
from official.modeling import hyperparams
from official.projects.group_norm import registry_imports  # noqa: F401 (registers the experiments)
from official.projects.group_norm.data import make_shapes


def digits_params(data_dir, train_steps=2, global_batch=2, **runtime):
  """resnet_gn_digits, shortened for tests, reading/making data in data_dir."""
  params = exp_factory.get_exp_config('resnet_gn_digits')
  params.override({
      'runtime': runtime,
      'task': {
          'train_data': {'input_path': os.path.join(data_dir, 'train.tfrecord'),
                         'global_batch_size': global_batch},
          'validation_data': {
              'input_path': os.path.join(data_dir, 'validation.tfrecord'),
              'global_batch_size': 8},
      },
      'trainer': {'train_steps': train_steps, 'steps_per_loop': 1,
                  'checkpoint_interval': 1, 'summary_interval': 1,
                  'validation_interval': train_steps, 'validation_steps': 2},
  }, is_strict=True)
  return params


def shapes_params(shapes_dir, train_steps=2, config_file=None):
  """maskrcnn_gn_shapes, shortened for tests, on the data in shapes_dir.

  The tiny data set (8 training, 4 validation images) is made by the
  `shapes_dir` fixture; evaluation covers all 4 validation images.
  """
  params = exp_factory.get_exp_config('maskrcnn_gn_shapes')
  if config_file:
    params = hyperparams.override_params_dict(params, config_file,
                                              is_strict=True)
  params.override({
      'task': {
          'annotation_file': os.path.join(shapes_dir, 'val',
                                          'instances.json'),
          'train_data': {'input_path': make_shapes.tfrecord_path(
              shapes_dir, 'train')},
          'validation_data': {'input_path': make_shapes.tfrecord_path(
              shapes_dir, 'val')},
      },
      'trainer': {'train_steps': train_steps, 'steps_per_loop': 1,
                  'checkpoint_interval': 1, 'summary_interval': 1,
                  'validation_interval': train_steps, 'validation_steps': 2},
  }, is_strict=True)
  return params


def checkpoint_step_and_weights(model_dir):
  """The latest checkpoint's (global step, {name: model weight}).

  Weights are the model's and backbone's variables, without optimizer slots.
  """
  reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(model_dir)))
  weights = {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()
             if n.startswith(('model/', 'backbone/')) and
             '.OPTIMIZER_SLOT' not in n}
  return int(reader.get_tensor('global_step/.ATTRIBUTES/VARIABLE_VALUE')), (
      weights)


def two_mirrored_steps(params, model, model_dir):
  """Asserts a 2-step run at global batch 2 mirrored on 2 CPU replicas.

  Returns:
    The reader of its latest checkpoint, for the caller's weight checks.
  """
  assert params.task.train_data.global_batch_size == 2
  variable = model.backbone.trainable_variables[0]
  assert len(variable.values) == 2  # Mirrored over 2 CPU replicas.
  reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(model_dir))
  assert reader.get_tensor('global_step/.ATTRIBUTES/VARIABLE_VALUE') == 2
  return reader


def first_batch_made_here(monkeypatch, tmp_path, module, maker, experiment,
                          count):
  """The first validation batch of `experiment`, its data made in tmp_path.

  The task makes the data on first use through `module.maker`, the real
  maker with `count` examples a split, and reads `count` examples a batch.

  Returns:
    (the keyword arguments of each call of the maker, the batch).
  """
  made = []
  real = getattr(module, maker)

  def small(output_dir, **kwargs):  # The real maker, fewer examples.
    made.append(kwargs)
    return real(output_dir, num_train=count, num_val=count, **kwargs)

  monkeypatch.setattr(module, maker, small)
  return made, first_batch(experiment, 'validation_data',
                           str(tmp_path / 'validation.tfrecord'), count)


def first_batch(experiment, split, input_path, batch_size, overrides=None):
  """The first batch of an experiment's split, read by its task.

  `split` is e.g. 'train_data', read from `input_path`; the task makes the
  data there first if its config says so. `overrides` (a nested dict)
  change the experiment first.
  """
  params = exp_factory.get_exp_config(experiment)
  if overrides:
    params.override(overrides)
  data = getattr(params.task, split)
  data.input_path = input_path
  data.global_batch_size = batch_size
  task = task_factory.get_task(params.task)
  return next(iter(task.build_inputs(data)))


def copy_checkpoints(model_dir, to_dir):
  """Copies a run's checkpoints (not its summaries or params) to to_dir."""
  tf.io.gfile.makedirs(to_dir)
  for name in tf.io.gfile.listdir(model_dir):
    if name.startswith(('ckpt', 'checkpoint')):
      tf.io.gfile.copy(os.path.join(model_dir, name),
                       os.path.join(to_dir, name))


def clips_params(clips_dir, train_steps=2):
  """video_i3d_gn_clips, shortened for tests, on the clips in clips_dir."""
  params = exp_factory.get_exp_config('video_i3d_gn_clips')
  params.override({
      'task': {
          'train_data': {'input_path': os.path.join(clips_dir,
                                                    'train.tfrecord')},
          'validation_data': {
              'input_path': os.path.join(clips_dir, 'validation.tfrecord')},
      },
      'trainer': {'train_steps': train_steps, 'steps_per_loop': 1,
                  'checkpoint_interval': 1, 'summary_interval': 1,
                  'validation_interval': train_steps, 'validation_steps': 2},
  }, is_strict=True)
  return params
