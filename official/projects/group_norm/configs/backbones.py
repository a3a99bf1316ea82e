"""Backbone configs: Model Garden's backbone one-of, plus `resnet_gn`."""

import dataclasses
from typing import Optional

from official.modeling import hyperparams
from official.vision.configs import backbones


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


@dataclasses.dataclass
class Backbone(backbones.Backbone):
  """Model Garden's backbone one-of, plus `resnet_gn`."""
  resnet_gn: ResNetGN = dataclasses.field(default_factory=ResNetGN)
