"""The registered Mask R-CNN experiments carry the recipes they claim."""

import json
import os

import pytest
import yaml

from official.core import exp_factory
from official.modeling import hyperparams
from official.projects.group_norm import registry_imports  # noqa: F401 (registers the experiments)
from official.projects.group_norm.configs import maskrcnn as cfgs
from official.projects.group_norm.modeling import norms

EXPERIMENTS_DIR = os.path.join(os.path.dirname(cfgs.__file__), 'experiments')


def test_maskrcnn_resnetfpn_gn_coco_is_the_papers_recipe():
  params = exp_factory.get_exp_config('maskrcnn_resnetfpn_gn_coco')
  params.validate()
  model = params.task.model
  assert model.backbone.type == 'resnet_gn' and model.decoder.type == 'fpn_gn'
  assert (model.backbone.resnet_gn.model_id, model.backbone.resnet_gn.groups,
          model.decoder.fpn_gn.groups) == (50, 32, 32)
  assert norms.expected_part_norms(model) == {
      'backbone': 'group_norm', 'decoder': 'group_norm', 'rpn_head': None,
      'detection_head': 'group_norm', 'mask_head': 'group_norm'}
  assert model.norm_activation.norm_epsilon == 1e-5  # Every part's epsilon.
  # 4conv1fc box head, 4-conv mask head.
  assert (model.detection_head.num_convs, model.detection_head.num_fcs,
          model.mask_head.num_convs) == (4, 1, 4)
  # Weight decay 1e-4 on kernels, none on GN's gamma/beta.
  assert params.task.losses.l2_weight_decay == 1e-4
  assert not model.backbone.resnet_gn.norm_weight_decay
  # 2x: 180k steps at 16 images, lr 0.02 / 10 at 120k and 160k, warm-up.
  assert params.task.train_data.global_batch_size == 16
  assert params.trainer.train_steps == 180000
  lr = params.trainer.optimizer_config.learning_rate.stepwise
  assert lr.boundaries == [120000, 160000]
  assert lr.values == pytest.approx([0.02, 0.002, 0.0002])
  assert params.trainer.optimizer_config.warmup.linear.warmup_steps == 500
  assert params.task.init_checkpoint_modules == 'backbone'
  assert params.task.init_checkpoint


def test_scratch_variant_has_no_initialisation_and_a_longer_schedule():
  params = exp_factory.get_exp_config('maskrcnn_resnetfpn_gn_coco_scratch')
  params.validate()
  assert not params.task.init_checkpoint
  assert params.trainer.train_steps == 270000
  assert norms.expected_part_norms(params.task.model)['backbone'] == (
      'group_norm')


def test_coco_yaml_is_the_registered_experiment():
  params = exp_factory.get_exp_config('maskrcnn_resnetfpn_gn_coco')
  with open(os.path.join(EXPERIMENTS_DIR,
                         'maskrcnn_resnetfpn_gn_coco.yaml')) as f:
    # YAML has no tuples: the config's tuple fields read back as lists.
    assert yaml.safe_load(f) == json.loads(json.dumps(params.as_dict()))


def test_shapes_is_small_with_a_global_batch_of_2():
  params = exp_factory.get_exp_config('maskrcnn_gn_shapes')
  params.validate()
  model = params.task.model
  assert params.task.train_data.global_batch_size == 2
  assert model.input_size == [cfgs.SHAPES_IMAGE_SIZE] * 2 + [3]
  assert model.backbone.resnet_gn.model_id == 18
  assert model.num_classes == 4
  assert params.task.make_shapes_if_missing
  assert params.task.annotation_file.endswith(
      os.path.join('val', 'instances.json'))


def test_batch_norm_everywhere_is_one_config_file():
  params = exp_factory.get_exp_config('maskrcnn_gn_shapes')
  params = hyperparams.override_params_dict(
      params, os.path.join(EXPERIMENTS_DIR, 'maskrcnn_gn_shapes_bn.yaml'),
      is_strict=True)
  expected = norms.expected_part_norms(params.task.model)
  assert len(expected) == 5 and set(expected.values()) == {'batch_norm'}
