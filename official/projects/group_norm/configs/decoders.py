"""Decoder configs: Model Garden's decoder one-of, plus `fpn_gn`."""

import dataclasses
from typing import Optional

from official.modeling import hyperparams
from official.vision.configs import decoders


@dataclasses.dataclass
class FPNGN(hyperparams.Config):
  """FPN with a norm after every lateral and output conv; see fpn_gn.py.

  Attributes:
    num_filters: Channels of every level.
    norm: A name of `modeling.norms.NORM_NAMES`, or null for no norm (a
      plain FPN whose convolutions have biases: the BN* baselines' FPN).
    groups: Groups of 'group_norm'; null to use `group_size`.
    group_size: Channels per group of 'group_norm' (exactly one of the two).

  Epsilon and momentum come from the model's `norm_activation`.
  """
  num_filters: int = 256
  norm: Optional[str] = 'group_norm'
  groups: Optional[int] = 32
  group_size: Optional[int] = None


@dataclasses.dataclass
class Decoder(decoders.Decoder):
  """Model Garden's decoder one-of, plus `fpn_gn`."""
  fpn_gn: FPNGN = dataclasses.field(default_factory=FPNGN)
