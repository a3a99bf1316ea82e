"""The registered video experiments carry the recipes they claim."""

import os

import pytest

from official.core import exp_factory
from official.modeling import hyperparams
from official.projects.group_norm.configs import video_classification as cfgs


def test_kinetics_recipe_is_the_papers_i3d_on_the_nonlocal_schedule():
  params = exp_factory.get_exp_config('video_i3d_r50_gn_kinetics400')
  params.validate()
  backbone = params.task.model.backbone
  assert backbone.type == 'resnet_3d_gn'
  r3d = backbone.resnet_3d_gn
  assert (r3d.model_id, r3d.groups, r3d.norm) == (50, 32, 'group_norm')
  assert not r3d.block_specs  # I3D's kernels for ResNet-50.
  assert (r3d.stem_conv_temporal_stride, r3d.stem_pool_temporal_stride,
          r3d.res2_temporal_pool) == (1, 1, True)
  assert not r3d.norm_weight_decay  # None on gamma/beta.
  assert params.task.losses.l2_weight_decay == 1e-4
  train = params.task.train_data
  assert tuple(train.feature_shape) == (32, 224, 224, 3)
  assert train.temporal_stride == 2
  assert train.global_batch_size == 64  # 8 clips x 8 replicas.
  assert params.task.validation_data.num_test_clips == 10
  assert params.task.inflate_init_checkpoint
  assert params.task.init_checkpoint_modules == 'backbone'
  assert params.trainer.train_steps == 400000
  optimizer = params.trainer.optimizer_config
  assert optimizer.learning_rate.stepwise.boundaries == [150000, 300000]
  assert optimizer.learning_rate.stepwise.values == pytest.approx(
      [0.01, 0.001, 0.0001])
  assert optimizer.optimizer.sgd.nesterov
  assert optimizer.warmup.type is None


def test_clips_experiment_reads_whole_clips_at_their_size():
  params = exp_factory.get_exp_config('video_i3d_gn_clips')
  params.validate()
  for data in (params.task.train_data, params.task.validation_data):
    frames, size = data.feature_shape[0], data.feature_shape[1]
    assert frames * data.temporal_stride == cfgs.CLIPS_FRAMES  # No tiling.
    assert data.min_image_size == size == cfgs.CLIPS_FRAME_SIZE  # No rescale.
    assert data.input_image_format == 'png' and data.num_classes == 4
  assert params.task.make_clips_if_missing
  assert params.task.train_data.global_batch_size == 2  # 1 clip x 2.


def test_switching_every_norm_to_bn_is_one_file_or_override():
  path = os.path.join(os.path.dirname(cfgs.__file__), 'experiments',
                      'video_i3d_gn_clips_bn.yaml')
  params = hyperparams.override_params_dict(
      exp_factory.get_exp_config('video_i3d_gn_clips'), path, is_strict=True)
  assert params.task.model.backbone.resnet_3d_gn.norm == 'batch_norm'
