"""The grouped view of an input, for the kernels whose shapes are all static.

The JAX and PyTorch kernels split the channel axis in place into
``(groups, channels_per_group)``, nothing transposed: the view is
`[N, ..., G, C/G, ...]`. `GroupedLayout` holds its shapes and the sums
`_maths` needs; a kernel subclasses it with its array library's `_sum`
(keeping dims) and `_reshape`. A layout is a hashable tuple, so JAX can take
it as a static (`nondiff_argnums`) argument. (The TensorFlow kernel has its
own layout: unknown dimensions, `ones @ x` sums on CPU, rank-4 views for
TFLite.) No backend is imported here.
"""

import math
from typing import NamedTuple, Tuple


class GroupedLayout(NamedTuple):
  """The grouped view of one input."""
  shape: Tuple[int, ...]  # The input's.
  grouped_shape: Tuple[int, ...]  # [N, ..., G, C/G, ...].
  param_shape: Tuple[int, ...]  # Per-channel values, broadcastable to it.
  spatial_axes: Tuple[int, ...]  # Grouped-view axes summed per channel.
  channel_axis: int  # Channels within a group, in the grouped view.
  epsilon: float

  @classmethod
  def of(cls, shape, axis: int, groups: int, epsilon: float):
    """The layout of an input of `shape` with channels on (positive) `axis`."""
    shape = tuple(shape)
    rank = len(shape)
    channels = shape[axis]
    grouped = shape[:axis] + (groups, channels // groups) + shape[axis + 1:]
    param = ((1,) * axis + (groups, channels // groups) +
             (1,) * (rank - 1 - axis))
    spatial = tuple(i for i in range(1, rank + 1)
                    if i not in (axis, axis + 1))
    return cls(shape, grouped, param, spatial, axis + 1, float(epsilon))

  @property
  def group_size(self):
    """Elements per (sample, group)."""
    groups = self.grouped_shape[self.channel_axis - 1]
    return math.prod(self.shape[1:]) // groups

  @property
  def stat_axes(self):
    return tuple(sorted(self.spatial_axes + (self.channel_axis,)))

  @property
  def batch_axes(self):
    return (0,) + self.spatial_axes

  def channel_sums(self, t):
    """Sums a grouped-view array over the spatial axes: [N, 1.., G, C/G, 1..].

    Channels-last, the sum runs over `[N, S, C]` with the channels whole and
    minor, the reduction batch norm makes: on XLA:CPU the JAX layer's step at
    2x112x112x64 (C/G = 2) is 1.25x faster than with sums over the minor-2
    `[N, S, G, C/G]`.
    """
    if not self.spatial_axes:
      return t
    if self.channel_axis == len(self.grouped_shape) - 1:
      n, groups, per_group = t.shape[0], *t.shape[-2:]
      sums = self._sum(self._reshape(t, (n, -1, groups * per_group)), (1,))
      return self._reshape(sums, (n,) + (1,) * len(self.spatial_axes) +
                           (groups, per_group))
    return self._sum(t, self.spatial_axes)

  def group_sums(self, per_channel):
    """Sums per-(sample, channel) values over each group: [N, 1.., G, 1..]."""
    return self._sum(per_channel, (self.channel_axis,))

  def stat_sums(self, t):
    """Sums a grouped-view array over each (sample, group) at once."""
    return self._sum(t, self.stat_axes)

  @staticmethod
  def _sum(t, axes):
    """Sums over `axes`, keeping them (the kernel's library)."""
    raise NotImplementedError

  @staticmethod
  def _reshape(t, shape):
    """Reshapes (the kernel's library)."""
    raise NotImplementedError
