"""Image-classification configs and experiments with ResNet-GN.

Each experiment is a short diff over Model Garden's classification configs:
the backbone becomes `resnet_gn` and switching its norm is one override, e.g.
`--params_override=task.model.backbone.resnet_gn.norm=batch_norm`.
"""

import dataclasses
import os
from typing import Optional, Sequence

from official.core import config_definitions as cfg
from official.core import exp_factory
from official.projects.group_norm.configs import backbones
from official.projects.group_norm.configs import common
from official.vision.configs import common as mg_common
from official.vision.configs import image_classification as mg_cls

IMAGENET_TRAIN_EXAMPLES = mg_cls.IMAGENET_TRAIN_EXAMPLES
IMAGENET_VAL_EXAMPLES = mg_cls.IMAGENET_VAL_EXAMPLES
DIGITS_TRAIN_EXAMPLES = 1437  # 80% of scikit-learn's 1797 digits.
DIGITS_IMAGE_SIZE = 32  # The 8x8 digits, upscaled so a ResNet stem fits.
# The batch-size study's input: ResNet's last stage is 2x2 there, not 1x1, so
# instance norm has more than one value to normalize.
COLOUR_DIGITS_IMAGE_SIZE = 64
# The shapes Mask R-CNN's pretraining set (data/make_shapes_classification).
SHAPES_TRAIN_EXAMPLES = 6000
SHAPES_IMAGE_SIZE = 64


@dataclasses.dataclass
class ImageClassificationModel(mg_cls.ImageClassificationModel):
  """Model Garden's classification model config with the `resnet_gn` one-of.

  `norm_activation` sets every norm's epsilon and momentum and the
  activation; `use_sync_bn` is refused (use `norm: sync_batch_norm`).
  """
  backbone: backbones.Backbone = dataclasses.field(
      default_factory=lambda: backbones.Backbone(type='resnet_gn'))
  norm_activation: mg_common.NormActivation = dataclasses.field(
      default_factory=common.norm_activation)


@dataclasses.dataclass
class ImageClassificationTask(mg_cls.ImageClassificationTask):
  """Model Garden's classification task config with a ResNet-GN model."""
  model: ImageClassificationModel = dataclasses.field(
      default_factory=ImageClassificationModel)
  # Write scikit-learn's digits as TFRecords (at the model's input size) to
  # the data paths' folder when the train/validation paths match no file.
  make_digits_if_missing: bool = False
  # Their style, of `data.make_digits.STYLES` ('plain', 'colour').
  digits_style: str = 'plain'
  # Or write Fashion-MNIST (`data.make_fashion_mnist`, its default subset, at
  # the model's input size) in this style, of its STYLES ('plain', 'photos').
  make_fashion_mnist_if_missing: bool = False
  fashion_mnist_style: str = 'photos'
  # Its class-balanced training subset: this many images of each class.
  fashion_mnist_train_per_class: int = 1000
  # Or write the shapes classification set (`data.make_shapes_classification`,
  # its default sizes, at the model's input size).
  make_shapes_if_missing: bool = False


@exp_factory.register_config_factory('resnet50_gn_imagenet')
def resnet50_gn_imagenet() -> cfg.ExperimentConfig:
  """The paper's ImageNet recipe (Sec. 4.1), for TFRecords on accelerators.

  ResNet-50, G = 32, 100 epochs, lr 0.1 x batch / 256 divided by 10 at epochs
  30, 60 and 90, weight decay 1e-4 on every weight including gamma/beta,
  gamma = 0 for the last norm of each block, 224 x 224 crops. The paper trains
  on 8 GPUs x 32 images; the global batch here is 256 accordingly.
  """
  batch_size = 256
  steps_per_epoch = IMAGENET_TRAIN_EXAMPLES // batch_size
  base = mg_cls.image_classification_imagenet()
  task = ImageClassificationTask(
      model=ImageClassificationModel(
          num_classes=1001,
          input_size=[224, 224, 3],
          backbone=backbones.Backbone(
              type='resnet_gn',
              resnet_gn=backbones.ResNetGN(model_id=50, groups=32)),
          norm_activation=common.norm_activation()),
      losses=mg_cls.Losses(l2_weight_decay=1e-4, label_smoothing=0.0),
      train_data=base.task.train_data.replace(global_batch_size=batch_size),
      validation_data=base.task.validation_data.replace(
          global_batch_size=batch_size))
  trainer = base.trainer.replace(
      steps_per_loop=steps_per_epoch,
      summary_interval=steps_per_epoch,
      checkpoint_interval=steps_per_epoch,
      train_steps=100 * steps_per_epoch,
      validation_steps=IMAGENET_VAL_EXAMPLES // batch_size,
      validation_interval=steps_per_epoch,
      optimizer_config=common.sgd_stepwise(
          0.1 * batch_size / 256,
          [30 * steps_per_epoch, 60 * steps_per_epoch, 90 * steps_per_epoch],
          warmup_steps=5 * steps_per_epoch))
  return cfg.ExperimentConfig(
      runtime=base.runtime, task=task, trainer=trainer,
      restrictions=base.restrictions)


def _small_classification(data_dir: str, num_classes: int, image_size: int,
                          depth_multiplier: float, batch_size: int,
                          trainer: cfg.TrainerConfig, hflip: bool = False,
                          validation_batch_size: Optional[int] = None,
                          shuffle_buffer_size: int = 2000,
                          backbone_fields: Optional[dict] = None,
                          model_id: int = 18,
                          **task_fields) -> cfg.ExperimentConfig:
  """A ResNet-GN (G = 8; ResNet-18's blocks) on a small set, mirrored.

  Args:
    data_dir: Holds (or will hold) `train.tfrecord` and
      `validation.tfrecord`.
    num_classes: Of the set.
    image_size: Side of its square images.
    depth_multiplier: Of the ResNet-18's widths.
    batch_size: Global, for training and validation.
    trainer: The schedule (`_small_trainer`).
    hflip: Random left-right flips in training (no crops ever: the images
      are small and whole).
    validation_batch_size: Global; defaults to `batch_size`.
    shuffle_buffer_size: Of the training input.
    backbone_fields: Further `backbones.ResNetGN` fields (stem, stages,
      norm decay).
    model_id: The depth, a key of Model Garden's `RESNET_SPECS` (10: one
      basic block a stage; 18: two).
    **task_fields: Further `ImageClassificationTask` fields (which set to
      make on first use).
  """
  data = dict(aug_crop=False, aug_rand_hflip=hflip,
              shuffle_buffer_size=shuffle_buffer_size, cycle_length=1, seed=0)
  task = ImageClassificationTask(
      model=ImageClassificationModel(
          num_classes=num_classes, input_size=[image_size, image_size, 3],
          backbone=backbones.Backbone(
              type='resnet_gn', resnet_gn=backbones.ResNetGN(
                  model_id=model_id, depth_multiplier=depth_multiplier,
                  groups=8,
                  **(backbone_fields or {}))),
          norm_activation=common.norm_activation()),
      losses=mg_cls.Losses(l2_weight_decay=1e-4, label_smoothing=0.0),
      train_data=mg_cls.DataConfig(
          input_path=os.path.join(data_dir, 'train.tfrecord'),
          is_training=True, global_batch_size=batch_size, **data),
      validation_data=mg_cls.DataConfig(
          input_path=os.path.join(data_dir, 'validation.tfrecord'),
          is_training=False,
          global_batch_size=validation_batch_size or batch_size,
          drop_remainder=False,
          **data),
      **task_fields)
  return common.small_experiment(task, trainer)


def _small_trainer(steps_per_epoch: int, epochs: int, learning_rate: float,
                   decay_epochs: Sequence[int], warmup_steps: int,
                   loop_steps: int, eval_interval: int,
                   max_to_keep: int = 1) -> cfg.TrainerConfig:
  """SGD with momentum, lr / 10 after each of `decay_epochs`, whole-set eval.

  `loop_steps` is also the summary interval; `eval_interval` is also the
  checkpoint interval.
  """
  return cfg.TrainerConfig(
      steps_per_loop=loop_steps,
      summary_interval=loop_steps,
      checkpoint_interval=eval_interval,
      train_steps=epochs * steps_per_epoch,
      validation_steps=-1,  # The whole validation set.
      validation_interval=eval_interval,
      max_to_keep=max_to_keep,
      best_checkpoint_export_subdir='',
      optimizer_config=common.sgd_stepwise(
          learning_rate, [e * steps_per_epoch for e in decay_epochs],
          warmup_steps=warmup_steps))


@exp_factory.register_config_factory('resnet_gn_digits')
def resnet_gn_digits() -> cfg.ExperimentConfig:
  """A small ResNet-18-GN on scikit-learn's digits that trains here in minutes.

  Global batch 8: with `--cpu_replicas=4` that is 2 images per replica, the
  regime where BatchNorm struggles. Data is made on first use.
  """
  batch_size = 8
  steps_per_epoch = DIGITS_TRAIN_EXAMPLES // batch_size
  return _small_classification(
      common.default_data_dir('digits'), 10, DIGITS_IMAGE_SIZE, 0.25,
      batch_size, _small_trainer(
          steps_per_epoch, 6, 0.1 * batch_size / 32, [4, 5],
          warmup_steps=steps_per_epoch // 4, loop_steps=steps_per_epoch,
          eval_interval=steps_per_epoch, max_to_keep=2),
      make_digits_if_missing=True)


@exp_factory.register_config_factory('resnet_gn_colour_digits')
def resnet_gn_colour_digits() -> cfg.ExperimentConfig:
  """The batch-size study's experiment: colour digits at 64 px, converged.

  ResNet-18-GN at a quarter width (G = 8) on scikit-learn's digits upscaled
  to 64 x 64 and painted in colours of their own (`make_digits`, style
  'colour'):
  - 64 px makes ResNet's last stage 2 x 2, so instance norm has values to
    normalize and BN over 2 images is noisy without being degenerate (at
    32 px, BN over 2 images of a 1 x 1 map outputs only +-1);
  - the colours make the images' statistics differ, as photographs' do:
    what BN's statistics over a few images misjudge, and what the plain
    digits lack (there BN at 2 images per replica is as good as at 32).
  The reference is the paper's normal batch, 32 images per replica on
  `--cpu_replicas=2` (global 64), lr 0.1 x 64 / 32 (0.8 per 256 images,
  scaled linearly with the global batch by the study), 15 epochs with the
  learning rate divided by 10 after 10 and 13, a one-epoch warm-up, weight
  decay 1e-4 on every weight; evaluated once, at the end. The study
  (`studies/sweep.py`) keeps the epochs for every batch size. Data is made
  on first use.
  """
  batch_size = 64
  steps_per_epoch = DIGITS_TRAIN_EXAMPLES // batch_size
  epochs = 15
  return _small_classification(
      common.default_data_dir('colour_digits'), 10, COLOUR_DIGITS_IMAGE_SIZE,
      0.25, batch_size, _small_trainer(
          steps_per_epoch, epochs, 0.1 * batch_size / 32, [10, 13],
          warmup_steps=steps_per_epoch, loop_steps=2 * steps_per_epoch,
          eval_interval=epochs * steps_per_epoch),
      make_digits_if_missing=True, digits_style='colour')


@exp_factory.register_config_factory('resnet_gn_shapes_pretrain')
def resnet_gn_shapes_pretrain() -> cfg.ExperimentConfig:
  """The "ImageNet" step of the shapes Mask R-CNN: classify synthetic shapes.

  The backbone of `maskrcnn_gn_shapes` (ResNet-18 at half width, G = 8)
  learns which shape and how many (3 kinds x 1-4: 12 classes) on 64 x 64
  images from the detection set's own maker (`make_shapes_classification`:
  6000 training and 1200 validation images, made on first use). Its
  checkpoint initialises the Mask R-CNN backbone (`task.init_checkpoint`,
  modules 'backbone'), as `resnet50_gn_imagenet` does for COCO. BN and GN
  pretrain with this one schedule (BN: one override, or the study's row):
  32 images per replica on `--cpu_replicas=2` (global 64, BN's normal
  batch), lr 0.2 divided by 10 after 20 and 26 of 30 epochs, a one-epoch
  warm-up, weight decay 1e-4 on every weight (the ImageNet recipe's), random
  left-right flips (a flip keeps kind and count).
  """
  batch_size = 64
  steps_per_epoch = SHAPES_TRAIN_EXAMPLES // batch_size
  return _small_classification(
      common.default_data_dir('shapes_classification'), 12,
      SHAPES_IMAGE_SIZE, 0.5, batch_size, _small_trainer(
          steps_per_epoch, 30, 0.1 * batch_size / 32, [20, 26],
          warmup_steps=steps_per_epoch, loop_steps=steps_per_epoch,
          eval_interval=5 * steps_per_epoch),
      hflip=True, shuffle_buffer_size=6000, make_shapes_if_missing=True)


# The batch-size study's protocol on Fashion-MNIST, fixed by its pilot
# (docs/fashion_mnist/pilot.md) before the counted runs: the depth and epochs
# that bring GN at 32 images per replica nearest convergence within the
# study's 8 hours (ResNet-10 at 40 epochs: 24.0% against ResNet-18 at 20,
# 26.9%, for about the same time; neither converges, see pilot.md).
FASHION_MNIST_TRAIN_PER_CLASS = 1000
FASHION_MNIST_TRAIN_EXAMPLES = 10 * FASHION_MNIST_TRAIN_PER_CLASS
FASHION_MNIST_MODEL_ID = 10  # One basic block a stage.
FASHION_MNIST_EPOCHS = 40
FASHION_MNIST_EVALUATIONS = 10  # Evaluations a run: the Figure 4 curves.
FASHION_MNIST_LEARNING_RATE = 0.4  # Per 256 images: 4x the paper's 0.1.
FASHION_MNIST_IMAGE_SIZE = 32
# Divides the 10,000 test images: no replica ever gets an empty last batch,
# on which TF 2.20's CPU FusedBatchNormV3 (BN at inference) raises.
FASHION_MNIST_VALIDATION_BATCH = 80


def _fashion_mnist(style: str) -> cfg.ExperimentConfig:
  """The batch-size study's CIFAR-style ResNet-GN on Fashion-MNIST.

  See `resnet_gn_fashion_photos`; `style` picks the images.
  """
  batch_size = 64
  steps_per_epoch = FASHION_MNIST_TRAIN_EXAMPLES // batch_size
  epochs = FASHION_MNIST_EPOCHS
  data_dir = common.default_data_dir(
      f'fashion_{style}_{FASHION_MNIST_TRAIN_EXAMPLES}')
  return _small_classification(
      data_dir, 10, FASHION_MNIST_IMAGE_SIZE, 0.25, batch_size,
      _small_trainer(
          steps_per_epoch, epochs,
          FASHION_MNIST_LEARNING_RATE * batch_size / 256,
          [epochs * 2 // 3, epochs * 8 // 9],
          warmup_steps=steps_per_epoch, loop_steps=steps_per_epoch,
          eval_interval=epochs // FASHION_MNIST_EVALUATIONS * steps_per_epoch),
      hflip=True, validation_batch_size=FASHION_MNIST_VALIDATION_BATCH,
      shuffle_buffer_size=FASHION_MNIST_TRAIN_EXAMPLES,
      backbone_fields=dict(stem_type='cifar', num_stages=3,
                           norm_weight_decay=False),
      model_id=FASHION_MNIST_MODEL_ID,
      make_fashion_mnist_if_missing=True, fashion_mnist_style=style,
      fashion_mnist_train_per_class=FASHION_MNIST_TRAIN_PER_CLASS)


@exp_factory.register_config_factory('resnet_gn_fashion_photos')
def resnet_gn_fashion_photos() -> cfg.ExperimentConfig:
  """The batch-size study on real images: Fashion-MNIST over photographs.

  Fashion-MNIST items tinted and laid over photographs and noisy colours
  (`make_fashion_mnist`, style 'photos', 32 px; a balanced training subset of
  FASHION_MNIST_TRAIN_PER_CLASS images a class, the whole 10,000-image test
  split for validation), made on first use from the four files
  `data.fashion_mnist` finds. A CIFAR-style ResNet-GN: one 3x3 stride-1 stem
  conv and ResNet-10's first three block groups at a quarter width
  (16/32/64 channels, one basic block each), so the last map is 8 x 8; G = 8, 2
  channels per group at the narrowest layer, the paper's share (ResNet-50:
  64 channels, G = 32). At 32 images per replica on `--cpu_replicas=2`
  (global 64): lr FASHION_MNIST_LEARNING_RATE (0.4) per 256 images, a
  one-epoch linear warm-up, divided by 10 at 2/3 and 8/9 of
  FASHION_MNIST_EPOCHS, FASHION_MNIST_EVALUATIONS evaluations a run, weight
  decay 1e-4 on the convolutions and the classifier, none on gamma/beta,
  each block's last gamma starting at 0; random left-right flips. The study
  (`studies/fashion_mnist.py`) keeps the epochs at every batch. Depth,
  epochs (FASHION_MNIST_EPOCHS: 40) and learning rate come from its pilot
  (docs/fashion_mnist/pilot.md).
  """
  return _fashion_mnist('photos')


@exp_factory.register_config_factory('resnet_gn_fashion_plain')
def resnet_gn_fashion_plain() -> cfg.ExperimentConfig:
  """`resnet_gn_fashion_photos` on plain Fashion-MNIST (grey items on black)."""
  return _fashion_mnist('plain')


# The Fashion Mask R-CNN's pretraining, the pilot's starting point (issue 25):
# items over photographs at 64 px span 48-64 px, the scenes' items (25-50% of
# 128 px) 32-64.
FASHION_PRETRAIN_PER_CLASS = 2000
FASHION_PRETRAIN_IMAGE_SIZE = 64
FASHION_PRETRAIN_EPOCHS = 20


@exp_factory.register_config_factory('resnet_gn_fashion_scenes_pretrain')
def resnet_gn_fashion_scenes_pretrain() -> cfg.ExperimentConfig:
  """The "ImageNet" step of the Fashion Mask R-CNN: classify Fashion-MNIST.

  The backbone exactly as `maskrcnn_gn_fashion_scenes` builds it (ResNet-18
  at half width, ImageNet stem, G = 16: 2 channels a group at its narrowest
  layer) classifies Fashion-MNIST items over photographs at the scenes' item
  scale (`make_fashion_mnist`, style 'photos', 64 px, a balanced subset of
  FASHION_PRETRAIN_PER_CLASS training images a class, the 10,000 test images
  for validation; made on first use). The shapes' pretraining recipe
  otherwise: global batch 64 (32 per replica on `--cpu_replicas=2`), lr 0.2
  divided by 10 at 70% and 90% of FASHION_PRETRAIN_EPOCHS, a one-epoch
  warm-up, weight decay 1e-4 on every weight, left-right flips. BN and GN
  pretrain with this one schedule; the study's pilot fixes the epochs (and
  the parity gate judges the outcome) before any counted run.
  """
  batch_size = 64
  train_examples = 10 * FASHION_PRETRAIN_PER_CLASS
  steps_per_epoch = train_examples // batch_size
  epochs = FASHION_PRETRAIN_EPOCHS
  params = _small_classification(
      common.default_data_dir(
          f'fashion_photos_{FASHION_PRETRAIN_IMAGE_SIZE}px_{train_examples}'),
      10, FASHION_PRETRAIN_IMAGE_SIZE, 0.5, batch_size, _small_trainer(
          steps_per_epoch, epochs, 0.1 * batch_size / 32,
          [epochs * 7 // 10, epochs * 9 // 10], warmup_steps=steps_per_epoch,
          loop_steps=steps_per_epoch, eval_interval=5 * steps_per_epoch),
      hflip=True, validation_batch_size=FASHION_MNIST_VALIDATION_BATCH,
      shuffle_buffer_size=train_examples, make_fashion_mnist_if_missing=True,
      fashion_mnist_style='photos',
      fashion_mnist_train_per_class=FASHION_PRETRAIN_PER_CLASS)
  params.task.model.backbone.resnet_gn.groups = 16
  return params
