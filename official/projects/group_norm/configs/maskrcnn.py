"""Mask R-CNN configs and experiments with GN in backbone, FPN and heads.

Model Garden's Mask R-CNN config, with three differences: the backbone and
decoder one-ofs know `resnet_gn` and `fpn_gn`, and each head config carries
its own norm (`norm`, and `groups` or `group_size`). The builder
(modeling/maskrcnn_gn.py) reads them. Model Garden's `norm_activation` is the
one source of every part's norm epsilon, momentum and activation; its
`use_sync_bn` is refused (the norm name 'sync_batch_norm' says it).

Switching every norm to BatchNorm is one flag:
`--config_file=official/projects/group_norm/configs/experiments/maskrcnn_gn_shapes_bn.yaml`.
"""

import dataclasses
import os
from typing import Optional, Tuple

from official.core import config_definitions as cfg
from official.core import exp_factory
from official.projects.group_norm.configs import backbones
from official.projects.group_norm.configs import common
from official.projects.group_norm.configs import decoders
from official.projects.group_norm.data import make_fashion_scenes
from official.vision.configs import common as mg_common
from official.vision.configs import maskrcnn as mg_maskrcnn

COCO_VAL_EXAMPLES = 5000
SHAPES_TRAIN_EXAMPLES = 2000
SHAPES_VAL_EXAMPLES = 200
SHAPES_IMAGE_SIZE = 128
FASHION_SCENES_VAL_EXAMPLES = 1000  # make_fashion_scenes' default.


@dataclasses.dataclass
class RPNHead(mg_maskrcnn.RPNHead):
  """Model Garden's RPN head config plus its norm (none, as in the paper)."""
  # None (no norm: the convs get biases) or a modeling.norms.NORM_NAMES name.
  norm: Optional[str] = None
  groups: Optional[int] = 32  # Null to use group_size.
  group_size: Optional[int] = None


@dataclasses.dataclass
class DetectionHead(mg_maskrcnn.DetectionHead):
  """Model Garden's box head config plus its norm: "4conv1fc" with GN."""
  norm: str = 'group_norm'
  groups: Optional[int] = 32  # Null to use group_size.
  group_size: Optional[int] = None


@dataclasses.dataclass
class MaskHead(mg_maskrcnn.MaskHead):
  """Model Garden's mask head config plus its norm."""
  norm: str = 'group_norm'
  groups: Optional[int] = 32  # Null to use group_size.
  group_size: Optional[int] = None


@dataclasses.dataclass
class MaskRCNN(mg_maskrcnn.MaskRCNN):
  """Model Garden's Mask R-CNN config with GN everywhere but the RPN."""
  backbone: backbones.Backbone = dataclasses.field(
      default_factory=lambda: backbones.Backbone(
          type='resnet_gn',
          resnet_gn=backbones.ResNetGN(norm_weight_decay=False)))
  decoder: decoders.Decoder = dataclasses.field(
      default_factory=lambda: decoders.Decoder(type='fpn_gn'))
  rpn_head: RPNHead = dataclasses.field(default_factory=RPNHead)
  detection_head: DetectionHead = dataclasses.field(
      default_factory=DetectionHead)
  mask_head: Optional[MaskHead] = dataclasses.field(default_factory=MaskHead)
  norm_activation: mg_common.NormActivation = dataclasses.field(
      default_factory=common.norm_activation)


@dataclasses.dataclass
class MaskRCNNTask(mg_maskrcnn.MaskRCNNTask):
  """Model Garden's Mask R-CNN task config with the GN model."""
  model: MaskRCNN = dataclasses.field(default_factory=MaskRCNN)
  # Write synthetic shapes to the data paths' folder when the train/validation
  # paths match no file (maskrcnn_gn_shapes only).
  make_shapes_if_missing: bool = False
  # Or the Fashion-MNIST scenes (data/make_fashion_scenes, its default counts,
  # at the model's input size), with these items an image and item sizes.
  make_fashion_scenes_if_missing: bool = False
  fashion_scenes_items: Tuple[int, int] = (2, 8)
  fashion_scenes_scale: Tuple[float, float] = (0.25, 0.5)


def _coco_experiment(init_checkpoint: Optional[str], train_steps: int,
                     boundaries) -> cfg.ExperimentConfig:
  """The paper's COCO setup with a given schedule."""
  train_batch_size, eval_batch_size = 16, 8
  base = mg_maskrcnn.maskrcnn_resnetfpn_coco()
  data = dict(dtype='float32')
  task = MaskRCNNTask(
      init_checkpoint=init_checkpoint,
      init_checkpoint_modules='backbone',
      annotation_file=base.task.annotation_file,
      model=MaskRCNN(
          num_classes=91, input_size=[1024, 1024, 3], include_mask=True,
          backbone=backbones.Backbone(
              type='resnet_gn', resnet_gn=backbones.ResNetGN(
                  model_id=50, groups=32, norm_weight_decay=False)),
          decoder=decoders.Decoder(type='fpn_gn', fpn_gn=decoders.FPNGN(
              num_filters=256, groups=32)),
          detection_head=DetectionHead(num_convs=4, num_fcs=1, fc_dims=1024),
          mask_head=MaskHead(num_convs=4)),
      # 1e-4 on kernels; GN's gamma and beta are never decayed (the paper's
      # WEIGHT_DECAY_GN = 0).
      losses=mg_maskrcnn.Losses(l2_weight_decay=1e-4),
      train_data=base.task.train_data.replace(
          global_batch_size=train_batch_size,
          parser=mg_maskrcnn.Parser(aug_rand_hflip=True), **data),
      validation_data=base.task.validation_data.replace(
          global_batch_size=eval_batch_size, **data))
  steps_per_loop = 1000
  trainer = cfg.TrainerConfig(
      train_steps=train_steps,
      validation_steps=COCO_VAL_EXAMPLES // eval_batch_size,
      validation_interval=10 * steps_per_loop,
      steps_per_loop=steps_per_loop,
      summary_interval=steps_per_loop,
      checkpoint_interval=steps_per_loop,
      # Detectron's: lr 0.02 for batch 16, warm-up from lr / 3 over 500 steps.
      optimizer_config=common.sgd_stepwise(0.02, boundaries, 500, 1 / 3))
  return cfg.ExperimentConfig(
      runtime=cfg.RuntimeConfig(distribution_strategy='mirrored'),
      task=task, trainer=trainer, restrictions=base.restrictions)


@exp_factory.register_config_factory('maskrcnn_resnetfpn_gn_coco')
def maskrcnn_resnetfpn_gn_coco() -> cfg.ExperimentConfig:
  """The paper's Mask R-CNN R50-FPN GN 2x (40.3 box AP / 35.7 mask AP).

  GN (G = 32) in the backbone, the FPN and the 4conv1fc box and 4-conv mask
  heads; 2x schedule: 180k steps at global batch 16 (8 accelerators x 2
  images), lr 0.02 divided by 10 at 120k and 160k; backbone initialised from
  a `resnet50_gn_imagenet` run: set `task.init_checkpoint` to its model_dir
  or checkpoint. COCO TFRecords are expected under `coco/` (Model Garden's
  convention; override the input paths and `task.annotation_file`).
  """
  return _coco_experiment('resnet50_gn_imagenet', 180000, [120000, 160000])


@exp_factory.register_config_factory('maskrcnn_resnetfpn_gn_coco_scratch')
def maskrcnn_resnetfpn_gn_coco_scratch() -> cfg.ExperimentConfig:
  """The paper's from-scratch variant: no ImageNet initialisation.

  Same model; the longer 3x schedule (270k steps, lr / 10 at 210k and 250k),
  as Detectron's scratch GN configs use.
  """
  return _coco_experiment(None, 270000, [210000, 250000])


@exp_factory.register_config_factory('maskrcnn_gn_shapes')
def maskrcnn_gn_shapes() -> cfg.ExperimentConfig:
  """A small Mask R-CNN-GN on synthetic shapes that trains on a CPU.

  ResNet-18 at half width, 128 x 128 images, levels P2-P5, a narrow FPN and
  heads (64 channels, G = 8), few proposals and RoIs. Global batch 2: with
  `--cpu_replicas=2` that is one image per replica, the paper's setting.
  Weight decay 1e-4 on kernels only, none on any norm's gamma and beta
  (`norm_weight_decay: false` in the backbone; the FPN and heads never decay
  them), as the paper fine-tunes. From scratch by default; the backbone of
  `resnet_gn_shapes_pretrain` plugs in as `task.init_checkpoint` (modules
  'backbone'), and YAMLs under `configs/experiments/` switch the norms to
  the paper's baselines (BN, BN*, BN* + GN heads, SyncBN).
  Data (2000 training and 200 validation images) is made on first use.
  """
  batch_size = 2
  groups = 8
  data_dir = common.default_data_dir('shapes')
  norm = dict(groups=groups)
  parser = mg_maskrcnn.Parser(aug_rand_hflip=True, max_num_instances=8,
                              rpn_batch_size_per_im=128, mask_crop_size=28)
  data = dict(global_batch_size=batch_size, dtype='float32',
              shuffle_buffer_size=1000, seed=0, parser=parser)
  task = MaskRCNNTask(
      annotation_file=os.path.join(data_dir, 'val', 'instances.json'),
      model=MaskRCNN(
          num_classes=4,  # Background, circle, square, triangle.
          input_size=[SHAPES_IMAGE_SIZE, SHAPES_IMAGE_SIZE, 3],
          min_level=2, max_level=5,
          anchor=mg_maskrcnn.Anchor(anchor_size=4.0),
          backbone=backbones.Backbone(
              type='resnet_gn', resnet_gn=backbones.ResNetGN(
                  model_id=18, depth_multiplier=0.5, norm_weight_decay=False,
                  **norm)),
          decoder=decoders.Decoder(type='fpn_gn', fpn_gn=decoders.FPNGN(
              num_filters=64, **norm)),
          rpn_head=RPNHead(num_filters=64, **norm),
          detection_head=DetectionHead(num_filters=64, fc_dims=256, **norm),
          mask_head=MaskHead(num_filters=64, **norm),
          roi_generator=mg_maskrcnn.ROIGenerator(
              pre_nms_top_k=600, num_proposals=128, test_pre_nms_top_k=300,
              test_num_proposals=64),
          roi_sampler=mg_maskrcnn.ROISampler(num_sampled_rois=64),
          mask_sampler=mg_maskrcnn.MaskSampler(num_sampled_masks=16),
          detection_generator=mg_maskrcnn.DetectionGenerator(
              pre_nms_top_k=300, max_num_detections=20)),
      losses=mg_maskrcnn.Losses(l2_weight_decay=1e-4),
      train_data=mg_maskrcnn.DataConfig(
          input_path=os.path.join(data_dir, 'train-*.tfrecord'),
          is_training=True, **data),
      validation_data=mg_maskrcnn.DataConfig(
          input_path=os.path.join(data_dir, 'val-*.tfrecord'),
          is_training=False, drop_remainder=False, **data),
      make_shapes_if_missing=True)
  steps_per_epoch = SHAPES_TRAIN_EXAMPLES // batch_size
  train_steps = 3 * steps_per_epoch
  trainer = cfg.TrainerConfig(
      train_steps=train_steps,
      validation_steps=SHAPES_VAL_EXAMPLES // batch_size,
      validation_interval=train_steps // 3,
      steps_per_loop=100,
      summary_interval=100,
      checkpoint_interval=500,
      max_to_keep=2,
      best_checkpoint_export_subdir='',
      optimizer_config=common.sgd_stepwise(
          0.02, [int(train_steps * 2 / 3), int(train_steps * 8 / 9)],
          warmup_steps=200, warmup_factor=1 / 3))
  return common.small_experiment(task, trainer)


@exp_factory.register_config_factory('maskrcnn_gn_fashion_scenes')
def maskrcnn_gn_fashion_scenes() -> cfg.ExperimentConfig:
  """`maskrcnn_gn_shapes`' Mask R-CNN-GN on scenes of real objects.

  2-8 Fashion-MNIST items an image, occluding one another, over photographs
  (`make_fashion_scenes`: 2000 training images from the training split's
  items, 1000 validation images from the test split's, made on first use);
  10 categories. The same network, schedule and batch as the shapes, but G =
  16 in the backbone (2 channels a group at its narrowest layer, the paper's
  share); its difficulty pilot has not run.
  """
  params = maskrcnn_gn_shapes()
  task = params.task
  data_dir = common.default_data_dir('fashion_scenes')
  task.annotation_file = os.path.join(data_dir, 'val', 'instances.json')
  task.model.num_classes = 1 + len(make_fashion_scenes.CATEGORIES)
  task.train_data.input_path = os.path.join(data_dir, 'train-*.tfrecord')
  task.validation_data.input_path = os.path.join(data_dir, 'val-*.tfrecord')
  task.make_shapes_if_missing = False
  task.make_fashion_scenes_if_missing = True
  # The paper's share of channels per group: 2 at the narrowest layer (G = 32
  # on ResNet-50's 64 channels); this backbone's narrowest has 32.
  task.model.backbone.resnet_gn.groups = 16
  params.trainer.validation_steps = (
      FASHION_SCENES_VAL_EXAMPLES // task.validation_data.global_batch_size)
  return params
