"""Backbone configs: Model Garden's backbone one-of, plus `resnet_gn`."""

import dataclasses
from typing import Optional, Tuple

from official.modeling import hyperparams
from official.vision.configs import backbones
from official.vision.configs import backbones_3d


@dataclasses.dataclass
class ResNetGN(hyperparams.Config):
  """ResNet with a pluggable norm; see modeling/resnet_gn.py.

  Attributes:
    model_id: Depth (18, 34, 50, 101, 152, ...).
    depth_multiplier: Scales every layer's channel count.
    norm: A name of `modeling.norms.NORM_NAMES`.
    groups: Groups of 'group_norm'; null to use `group_size`.
    group_size: Channels per group of 'group_norm', the alternative to
      `groups` (exactly one of the two is set).
    zero_init_last_gamma: Start the last norm of each block at gamma = 0.
    norm_weight_decay: Apply the L2 weight decay to the norms' gamma and beta
      too (the paper's ImageNet recipe does; Mask R-CNN fine-tuning does not).
    weight_standardization: Weight-standardized convolutions (GN+WS, Qiao et
      al. 2019, as BiT uses), stored as `ws_kernel`.
    stem_type: 'imagenet' (7x7/2 conv and 3x3/2 max-pool) or 'cifar' (one
      3x3/1 conv: 28-32 px images).
    num_stages: Block groups built, from the first (4; CIFAR ResNets: 3).
    frozen_stages: Stages kept fixed in training, Detectron's FREEZE_AT (0:
      none; 2: the stem and the first block group, Detectron's BN* rows).

  Epsilon, momentum and activation come from the model's `norm_activation`
  (the one source for every part); its `use_sync_bn` is refused: use
  `norm: sync_batch_norm`.
  """
  model_id: int = 50
  depth_multiplier: float = 1.0
  norm: str = 'group_norm'
  groups: Optional[int] = 32
  group_size: Optional[int] = None
  zero_init_last_gamma: bool = True
  norm_weight_decay: bool = True
  weight_standardization: bool = False
  stem_type: str = 'imagenet'
  num_stages: int = 4
  frozen_stages: int = 0


@dataclasses.dataclass
class Backbone(backbones.Backbone):
  """Model Garden's backbone one-of, plus `resnet_gn`."""
  resnet_gn: ResNetGN = dataclasses.field(default_factory=ResNetGN)


@dataclasses.dataclass
class ResNet3DGNBlock(hyperparams.Config):
  """One block group of `ResNet3DGN`.

  Attributes:
    temporal_strides: Its first block's temporal stride.
    temporal_kernel_sizes: Per block, the temporal kernel of its first conv
      (3 or 1); as many blocks as entries.
  """
  temporal_strides: int = 1
  temporal_kernel_sizes: Tuple[int, ...] = ()


@dataclasses.dataclass
class ResNet3DGN(hyperparams.Config):
  """I3D ResNet with a pluggable norm; see modeling/resnet_3d_gn.py.

  Attributes:
    model_id: Depth (50, 101, ...: Model Garden's 3-D bottleneck widths).
    block_specs: The four block groups (blocks and temporal kernels); empty
      for `model_id`'s blocks with I3D's kernels (res2 all 3, res3
      [3,1,3,1], res4 [3,1,3,1,3,1], res5 [1,3,1]) and temporal stride 1.
      Fewer blocks make a network for a CPU; all kernels 1 is C2D.
    stem_conv_temporal_kernel_size: 5 (I3D); 1 for C2D.
    stem_conv_temporal_stride: 1 (the Non-local baseline; Model Garden's
      `ResNet3D50` uses 2).
    stem_pool_temporal_stride: 1 (likewise).
    res2_temporal_pool: A 2x1x1 max-pool with temporal stride 2 after res2.
    depth_multiplier: Scales every width.
    norm: A name of `modeling.norms.NORM_NAMES`.
    groups: Groups of 'group_norm'; null to use `group_size`.
    group_size: Channels per group of 'group_norm'.
    zero_init_last_gamma: Start the last norm of each block at gamma = 0.
    norm_weight_decay: Decay the norms' gamma and beta too (off: the
      paper's fine-tuning from ImageNet).
  """
  model_id: int = 50
  block_specs: Tuple[ResNet3DGNBlock, ...] = ()
  stem_conv_temporal_kernel_size: int = 5
  stem_conv_temporal_stride: int = 1
  stem_pool_temporal_stride: int = 1
  res2_temporal_pool: bool = True
  depth_multiplier: float = 1.0
  norm: str = 'group_norm'
  groups: Optional[int] = 32
  group_size: Optional[int] = None
  zero_init_last_gamma: bool = True
  norm_weight_decay: bool = False


@dataclasses.dataclass
class Backbone3D(backbones_3d.Backbone3D):
  """Model Garden's 3-D backbone one-of, plus `resnet_3d_gn`."""
  resnet_3d_gn: ResNet3DGN = dataclasses.field(default_factory=ResNet3DGN)
