"""Video classification configs and experiments with I3D ResNet-3D-GN.

Model Garden's video classification config, with the `resnet_3d_gn` backbone
in the 3-D one-of and two task fields: `inflate_init_checkpoint` (the
`init_checkpoint` is a 2-D ResNet-GN classification run, inflated I3D style
into the 3-D backbone) and `make_clips_if_missing` (the synthetic clips).
Switching every norm to BatchNorm is one override,
`--params_override=task.model.backbone.resnet_3d_gn.norm=batch_norm`, or the
YAML `configs/experiments/video_i3d_gn_clips_bn.yaml`.
"""

import dataclasses
import os
from typing import Tuple

from official.core import config_definitions as cfg
from official.core import exp_factory
from official.projects.group_norm.configs import backbones
from official.projects.group_norm.configs import common
from official.projects.group_norm.data import make_fashion_clips
from official.vision.configs import common as mg_common
from official.vision.configs import video_classification as mg_video

CLIPS_TRAIN_EXAMPLES = 800
CLIPS_VAL_EXAMPLES = 200
CLIPS_FRAMES = 8
CLIPS_FRAME_SIZE = 32
# The Fashion-MNIST clips (`make_fashion_clips`) as the video study's pilot
# fixed them on 2026-12-05 (docs/video_fashion/pilot.md, `coarse_one_slow_e18`:
# GN at 8 clips per replica 86.75% top-1, inside the 80-92% band): one item a
# clip, the coarse classes (10 labels), the slower mover, 18 epochs.
FASHION_CLIPS_TRAIN_EXAMPLES = 4000
FASHION_CLIPS_VAL_EXAMPLES = 2000
FASHION_CLIPS_FRAMES = 8
FASHION_CLIPS_FRAME_SIZE = 48
FASHION_CLIPS_EPOCHS = 18
FASHION_CLIPS_ITEMS = 1
FASHION_CLIPS_CLASSES = 'coarse'
FASHION_CLIPS_SPEED = (0.02, 0.035)
# The Non-local Networks baseline's schedule (facebookresearch/video-nonlocal-
# net, configs/DBG_kinetics_resnet_8gpu_c2d_nonlocal_400k.yaml): 8 GPUs x 8
# clips, 400k iterations, lr 0.01 divided by 10 after 150k and 300k, SGD with
# Nesterov momentum 0.9, weight decay 1e-4 and none on the norms, no warm-up.
NONLOCAL_BATCH = 64
NONLOCAL_STEPS = 400000
NONLOCAL_BOUNDARIES = (150000, 300000)


@dataclasses.dataclass
class VideoClassificationModel(mg_video.VideoClassificationModel):
  """Model Garden's video model config with the `resnet_3d_gn` one-of.

  `norm_activation` sets every norm's epsilon and momentum and the
  activation; `use_sync_bn` is refused (use `norm: sync_batch_norm`).
  """
  backbone: backbones.Backbone3D = dataclasses.field(
      default_factory=lambda: backbones.Backbone3D(type='resnet_3d_gn'))
  norm_activation: mg_common.NormActivation = dataclasses.field(
      default_factory=common.norm_activation)


@dataclasses.dataclass
class VideoClassificationTask(mg_video.VideoClassificationTask):
  """Model Garden's video task config with the I3D ResNet-3D-GN."""
  model: VideoClassificationModel = dataclasses.field(
      default_factory=VideoClassificationModel)
  # `init_checkpoint` is a 2-D ResNet-GN classification run (e.g. of
  # `resnet50_gn_imagenet`) to inflate into the 3-D backbone.
  inflate_init_checkpoint: bool = False
  # Write the synthetic clips (data/make_clips) to the data paths' folder when
  # the train/validation paths match no file.
  make_clips_if_missing: bool = False
  # Or the Fashion-MNIST clips (data/make_fashion_clips: this many items a
  # clip, each this fraction of its column wide, the mover at this speed
  # range, classes 'fine' or 'coarse', whose labels the data configs'
  # num_classes must count; their num_examples clips a split).
  make_fashion_clips_if_missing: bool = False
  fashion_clips_items: int = 2
  fashion_clips_item_scale: float = 1.0
  fashion_clips_speed: Tuple[float, float] = make_fashion_clips.SPEED
  fashion_clips_classes: str = 'fine'


@exp_factory.register_config_factory('video_i3d_r50_gn_kinetics400')
def video_i3d_r50_gn_kinetics400() -> cfg.ExperimentConfig:
  """The paper's video recipe (Sec. 4.3): I3D ResNet-50-GN on Kinetics-400.

  The Non-local baseline's I3D (5x7x7 stem, 3x1x1 kernels in res2 all, res3
  [1,0,1,0], res4 [1,0,1,0,1,0], res5 [0,1,0], temporal pool after res2; no
  self-gating), GN with G = 32 over (T, H, W) and a group's channels, 32
  frames at temporal stride 2, 224 crops (Model Garden's random resized crop
  and flip for training; 10 clips of the centre crop after resizing to 256
  for evaluation), 8 clips per replica on 8 replicas, dropout 0.5. The Non-
  local baseline's schedule (`NONLOCAL_*`): 400k steps, lr 0.01 divided by 10
  after 150k and 300k, Nesterov momentum 0.9, weight decay 1e-4 on kernels
  and none on gamma/beta. The backbone starts from our ImageNet recipe by
  inflation: set `task.init_checkpoint` to a `resnet50_gn_imagenet`
  model_dir. Point the data at Kinetics-400 SequenceExample TFRecords
  (`task.train_data.input_path`, `task.validation_data.input_path`).
  Paper (Table 8, 8 clips per GPU): GN 73.0 / 90.6 top-1 / top-5, BN 73.3 /
  90.7.
  """
  base = mg_video.video_classification()
  clip = (32, 224, 224, 3)
  train = mg_video.kinetics400(is_training=True).replace(
      feature_shape=clip, temporal_stride=2,
      global_batch_size=NONLOCAL_BATCH)
  validation = mg_video.kinetics400(is_training=False).replace(
      feature_shape=clip, temporal_stride=2, num_test_clips=10,
      global_batch_size=NONLOCAL_BATCH)
  task = VideoClassificationTask(
      model=VideoClassificationModel(
          backbone=backbones.Backbone3D(
              type='resnet_3d_gn',
              resnet_3d_gn=backbones.ResNet3DGN(model_id=50, groups=32)),
          dropout_rate=0.5),
      losses=mg_video.Losses(l2_weight_decay=1e-4),
      train_data=train, validation_data=validation,
      init_checkpoint_modules='backbone', inflate_init_checkpoint=True)
  trainer = cfg.TrainerConfig(
      steps_per_loop=1000, summary_interval=1000, checkpoint_interval=10000,
      train_steps=NONLOCAL_STEPS,
      validation_steps=validation.num_examples // NONLOCAL_BATCH,
      validation_interval=20000,
      optimizer_config=common.sgd_stepwise(
          0.01, list(NONLOCAL_BOUNDARIES), warmup_steps=0, nesterov=True))
  return cfg.ExperimentConfig(runtime=base.runtime, task=task,
                              trainer=trainer, restrictions=base.restrictions)


@exp_factory.register_config_factory('video_i3d_gn_clips')
def video_i3d_gn_clips() -> cfg.ExperimentConfig:
  """A small I3D-GN on synthetic clips that trains here in minutes.

  One bottleneck block per stage at 1/8 width (widths 8 to 64, x4 out),
  G = 4 (2 channels a group at the narrowest layer, as G = 32 at ResNet-50's
  64), I3D kernels [3], [3], [3], [1], the stem and res2 pool of the paper's
  I3D. Clips of 8 frames of 32 x 32 (`make_clips`: 800 training and 200
  validation clips, 4 classes in time-reversed pairs, made on first use),
  stored at the clip length (no tiling) and evaluated at their size
  (`min_image_size` 32, no rescale). Global batch 2: with
  `--cpu_replicas=2` that is one clip per replica. 6 epochs, lr 0.01 divided
  by 10 after 4 and 5, a quarter-epoch warm-up, weight decay 1e-4 on
  kernels (none on gamma/beta), float32.
  """
  batch_size = 2
  data_dir = common.default_data_dir('clips')
  clip = (CLIPS_FRAMES, CLIPS_FRAME_SIZE, CLIPS_FRAME_SIZE, 3)
  data = dict(feature_shape=clip, temporal_stride=1, num_classes=4,
              min_image_size=CLIPS_FRAME_SIZE, input_image_format='png',
              global_batch_size=batch_size, shuffle_buffer_size=800,
              cycle_length=1, seed=0, dtype='float32')
  task = VideoClassificationTask(
      model=VideoClassificationModel(
          backbone=backbones.Backbone3D(
              type='resnet_3d_gn', resnet_3d_gn=backbones.ResNet3DGN(
                  model_id=50, depth_multiplier=0.125, groups=4,
                  block_specs=tuple(
                      backbones.ResNet3DGNBlock(temporal_kernel_sizes=(k,))
                      for k in (3, 3, 3, 1)))),
          dropout_rate=0.0),
      losses=mg_video.Losses(l2_weight_decay=1e-4),
      train_data=mg_video.DataConfig(
          input_path=os.path.join(data_dir, 'train.tfrecord'),
          is_training=True, num_examples=CLIPS_TRAIN_EXAMPLES, **data),
      validation_data=mg_video.DataConfig(
          input_path=os.path.join(data_dir, 'validation.tfrecord'),
          is_training=False, num_examples=CLIPS_VAL_EXAMPLES,
          drop_remainder=False, **data),
      make_clips_if_missing=True)
  steps_per_epoch = CLIPS_TRAIN_EXAMPLES // batch_size
  epochs = 6
  train_steps = epochs * steps_per_epoch
  trainer = cfg.TrainerConfig(
      steps_per_loop=steps_per_epoch // 2,
      summary_interval=steps_per_epoch // 2,
      checkpoint_interval=train_steps,
      train_steps=train_steps,
      validation_steps=-1,  # Every validation clip.
      validation_interval=train_steps,
      max_to_keep=1,
      best_checkpoint_export_subdir='',
      optimizer_config=common.sgd_stepwise(
          0.01, [4 * steps_per_epoch, 5 * steps_per_epoch],
          warmup_steps=steps_per_epoch // 4))
  return common.small_experiment(task, trainer)


@exp_factory.register_config_factory('video_i3d_gn_fashion_clips')
def video_i3d_gn_fashion_clips() -> cfg.ExperimentConfig:
  """`video_i3d_gn_clips`'s I3D-GN on clips of real objects.

  Fashion-MNIST items over dimmed photographs, one moving up or down
  (`make_fashion_clips`, made on first use), as the video study's pilot
  fixed them: FASHION_CLIPS_ITEMS item a clip at FASHION_CLIPS_SPEED of the
  side a frame, 10 labels (the mover's coarse class and its direction),
  FASHION_CLIPS_FRAMES frames of FASHION_CLIPS_FRAME_SIZE pixels,
  FASHION_CLIPS_TRAIN_EXAMPLES training clips from the training split's items
  and FASHION_CLIPS_VAL_EXAMPLES validation clips from the test split's.
  Global batch 2 (1 clip per replica on `--cpu_replicas=2`; the study
  rescales steps and rate to its batches), FASHION_CLIPS_EPOCHS epochs, lr
  0.01 per 2 clips divided by 10 at 2/3 and 5/6 of them (where the pilot's
  6-epoch schedule, 3x, put its drops), a quarter-epoch warm-up.
  """
  return _fashion_clips(FASHION_CLIPS_FRAMES)


@exp_factory.register_config_factory('video_i3d_gn_fashion_clips_long')
def video_i3d_gn_fashion_clips_long() -> cfg.ExperimentConfig:
  """`video_i3d_gn_fashion_clips` with clips twice as long (16 frames).

  The mover keeps its speed, so it travels twice as far: more frames, more
  evidence of the direction (the paper's 64 against 32 frames).
  """
  return _fashion_clips(2 * FASHION_CLIPS_FRAMES)


def _fashion_clips(frames: int) -> cfg.ExperimentConfig:
  params = video_i3d_gn_clips()
  task, trainer = params.task, params.trainer
  # The pilot's folder name for these settings (the maker's settings file
  # beside the clips keeps any other folder's clips out).
  data_dir = common.default_data_dir(
      f'fashion_clips_{frames}f_coarse_1item_slow')
  clip = (frames, FASHION_CLIPS_FRAME_SIZE, FASHION_CLIPS_FRAME_SIZE, 3)
  for data, name, count in (
      (task.train_data, 'train.tfrecord', FASHION_CLIPS_TRAIN_EXAMPLES),
      (task.validation_data, 'validation.tfrecord',
       FASHION_CLIPS_VAL_EXAMPLES)):
    data.input_path = os.path.join(data_dir, name)
    data.num_examples = count
    data.feature_shape = clip
    data.num_classes = make_fashion_clips.num_classes(FASHION_CLIPS_CLASSES)
    data.min_image_size = FASHION_CLIPS_FRAME_SIZE
  task.train_data.shuffle_buffer_size = FASHION_CLIPS_TRAIN_EXAMPLES
  task.make_clips_if_missing = False
  task.make_fashion_clips_if_missing = True
  task.fashion_clips_items = FASHION_CLIPS_ITEMS
  task.fashion_clips_classes = FASHION_CLIPS_CLASSES
  task.fashion_clips_speed = FASHION_CLIPS_SPEED
  batch_size = task.train_data.global_batch_size
  steps_per_epoch = FASHION_CLIPS_TRAIN_EXAMPLES // batch_size
  epochs = FASHION_CLIPS_EPOCHS
  train_steps = epochs * steps_per_epoch
  trainer.steps_per_loop = trainer.summary_interval = steps_per_epoch // 2
  trainer.checkpoint_interval = trainer.validation_interval = train_steps
  trainer.train_steps = train_steps
  trainer.optimizer_config = common.sgd_stepwise(
      0.01, [epochs * 2 // 3 * steps_per_epoch,
             epochs * 5 // 6 * steps_per_epoch],
      warmup_steps=steps_per_epoch // 4)
  return params
