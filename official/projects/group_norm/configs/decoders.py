"""Decoder configs: Model Garden's decoder one-of, plus `fpn_gn`."""

import dataclasses

from official.modeling import hyperparams
from official.vision.configs import decoders


@dataclasses.dataclass
class FPNGN(hyperparams.Config):
  """FPN with a norm after every lateral and output conv; see fpn_gn.py."""
  num_filters: int = 256
  norm: str = 'group_norm'  # Any name of modeling.norms.NORM_NAMES.
  groups: int = 32
  norm_epsilon: float = 1e-5


@dataclasses.dataclass
class Decoder(decoders.Decoder):
  """Model Garden's decoder one-of, plus `fpn_gn`."""
  fpn_gn: FPNGN = dataclasses.field(default_factory=FPNGN)
