"""The static-shape kernels' shared code: the grouped view and the prologue.

The JAX and PyTorch kernels split the channel axis in place into
``(groups, channels_per_group)``, nothing transposed: the view is
`[N, ..., G, C/G, ...]`. Everything but the autodiff wrapper is the same for
both and lives here, over an `ArrayLibrary` (the few functions a kernel takes
from jax.numpy or torch): the argument checks and mask weights (`prepare`),
the public function (`make_group_norm`), the grouped view and its sums
(`GroupedLayout`, which `_maths` takes as `sums`, while the library is its
`fn`), and the forward and closed backward in that view (`forward`,
`backward` and their masked twins). A layout is a hashable tuple, so JAX
can take it as a static (`nondiff_argnums`) argument. (The TensorFlow
kernel has its own layout: unknown dimensions, `ones @ x` sums on CPU,
rank-4 views for TFLite.) No backend is imported here.
"""

import math
from typing import Any, Callable, NamedTuple, Optional, Tuple

from gn_keras import _maths
from gn_keras._args import check_mask_shape
from gn_keras._args import normalize_axis
from gn_keras._args import resolve_groups


class ArrayLibrary(NamedTuple):
  """What the shared code calls of a kernel's array library."""
  array: Callable  # array(value, dtype=None, like=None): like gives a device.
  full: Callable  # full(n, value, dtype, like): a [n] array.
  cast: Callable  # cast(t, dtype).
  reshape: Callable
  sum: Callable  # sum(t, axes), keeping them.
  expand_dims: Callable
  broadcast_to: Callable
  float32: Any
  float64: Any
  # `_maths`'s elementwise functions (the library is its `fn`).
  square: Callable
  maximum: Callable
  rsqrt: Callable
  where: Callable
  zeros_like: Callable
  ones_like: Callable
  divide_no_nan: Callable


class GroupedLayout(NamedTuple):
  """The grouped view of one input, summed by its kernel's library."""
  shape: Tuple[int, ...]  # The input's.
  grouped_shape: Tuple[int, ...]  # [N, ..., G, C/G, ...].
  param_shape: Tuple[int, ...]  # Per-channel values, broadcastable to it.
  spatial_axes: Tuple[int, ...]  # Grouped-view axes summed per channel.
  channel_axis: int  # Channels within a group, in the grouped view.
  epsilon: float
  lib: ArrayLibrary

  @classmethod
  def of(cls, shape, axis: int, groups: int, epsilon: float,
         lib: ArrayLibrary):
    """The layout of an input of `shape` with channels on (positive) `axis`."""
    shape = tuple(shape)
    rank = len(shape)
    channels = shape[axis]
    grouped = shape[:axis] + (groups, channels // groups) + shape[axis + 1:]
    param = ((1,) * axis + (groups, channels // groups) +
             (1,) * (rank - 1 - axis))
    spatial = tuple(i for i in range(1, rank + 1)
                    if i not in (axis, axis + 1))
    return cls(shape, grouped, param, spatial, axis + 1, float(epsilon), lib)

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
    lib = self.lib
    if self.channel_axis == len(self.grouped_shape) - 1:
      n, groups, per_group = t.shape[0], *t.shape[-2:]
      sums = lib.sum(lib.reshape(t, (n, -1, groups * per_group)), (1,))
      return lib.reshape(sums, (n,) + (1,) * len(self.spatial_axes) +
                         (groups, per_group))
    return lib.sum(t, self.spatial_axes)

  def group_sums(self, per_channel):
    """Sums per-(sample, channel) values over each group: [N, 1.., G, 1..]."""
    return self.lib.sum(per_channel, (self.channel_axis,))

  def stat_sums(self, t):
    """Sums a grouped-view array over each (sample, group) at once."""
    return self.lib.sum(t, self.stat_axes)

  def grouped(self, t, dtype):
    """`t` (of the input's shape) in the grouped view and `dtype`."""
    return self.lib.cast(self.lib.reshape(t, self.grouped_shape), dtype)

  def grouped_weights(self, weights):
    """Mask weights in the grouped view (a channel-less mask: 1 channel)."""
    if tuple(weights.shape) == self.shape:
      return self.lib.reshape(weights, self.grouped_shape)
    shape = list(self.grouped_shape)
    shape[self.channel_axis - 1] = shape[self.channel_axis] = 1
    return self.lib.reshape(weights, shape)

  def per_channel(self, t):
    """Sums per-(sample, channel) values over the batch: shape [C]."""
    return self.lib.reshape(self.lib.sum(t, self.batch_axes), (-1,))

  def param(self, t):
    """A per-channel [C] array, broadcastable to the grouped view."""
    return self.lib.reshape(t, self.param_shape)

  def ungrouped(self, y, dtype):
    """A grouped-view result back in the input's shape and `dtype`."""
    return self.lib.reshape(self.lib.cast(y, dtype), self.shape)


def prepare(lib: ArrayLibrary, x, groups, gamma, beta, axis, epsilon,
            group_size, mask):
  """Checks a kernel's arguments; returns (x, gamma, beta, layout, weights).

  gamma and beta come back as [C] arrays in the statistics dtype (float32,
  or float64 for float64 inputs); weights (None without a mask) as the mask
  in that dtype, broadcast to x's shape, a channel-less mask keeping its 1
  on the channel axis. See `gn_keras.ops.group_norm` for the arguments.
  """
  x = lib.array(x)
  shape = tuple(x.shape)
  axis = normalize_axis(axis, len(shape))
  channels = shape[axis]
  num_groups = resolve_groups(channels, groups, group_size)
  stat_dtype = lib.float64 if x.dtype == lib.float64 else lib.float32

  def channel_param(value, default, name):
    if value is None:
      return lib.full(channels, default, stat_dtype, x)
    value = lib.array(value, stat_dtype, x)
    if tuple(value.shape) != (channels,):
      raise ValueError(f'`{name}` must have shape [{channels}] (one value '
                       f'per channel); received shape {tuple(value.shape)}.')
    return value

  gamma = channel_param(gamma, 1.0, 'gamma')
  beta = channel_param(beta, 0.0, 'beta')
  layout = GroupedLayout.of(shape, axis, num_groups, epsilon, lib)
  weights = None
  if mask is not None:
    mask = lib.array(mask, None, x)
    if check_mask_shape(tuple(mask.shape), shape, axis):
      mask = lib.expand_dims(mask, axis)
    channels_kept = 1 if mask.shape[axis] == 1 else channels
    weights = lib.broadcast_to(
        lib.cast(mask, stat_dtype),
        shape[:axis] + (channels_kept,) + shape[axis + 1:])
  return x, gamma, beta, layout, weights


def forward(x, gamma, beta, layout: GroupedLayout):
  """(y, mean_hi, mean_lo, rstd): `_maths.forward` in the grouped view."""
  y, mean_hi, mean_lo, rstd = _maths.forward(
      layout.grouped(x, gamma.dtype), layout.param(gamma), layout.param(beta),
      layout.group_size, layout.epsilon, layout, layout.lib)
  return layout.ungrouped(y, x.dtype), mean_hi, mean_lo, rstd


def backward(dy, x, gamma, mean_hi, mean_lo, rstd, layout: GroupedLayout):
  """(dx, dgamma, dbeta): the closed form (`_maths.backward`)."""
  stat_dtype = rstd.dtype
  dx, dgamma, dbeta = _maths.backward(
      layout.grouped(dy, stat_dtype), layout.grouped(x, stat_dtype),
      layout.param(gamma), mean_hi, mean_lo, rstd, layout.group_size, layout)
  return (layout.ungrouped(dx, x.dtype), layout.per_channel(dgamma),
          layout.per_channel(dbeta))


def masked_forward(x, weights, gamma, beta, layout: GroupedLayout):
  """(y, mean, rstd, total): `_maths.masked_forward` in the grouped view."""
  y, mean, rstd, total, _ = _maths.masked_forward(
      layout.grouped(x, gamma.dtype), layout.grouped_weights(weights),
      layout.param(gamma), layout.param(beta), layout.epsilon, layout,
      layout.lib)
  return layout.ungrouped(y, x.dtype), mean, rstd, total


def masked_backward(dy, x, weights, gamma, mean, rstd, total,
                    layout: GroupedLayout):
  """(dx, dgamma, dbeta): the masked closed form; weights get none."""
  stat_dtype = rstd.dtype
  w = layout.grouped_weights(weights)
  dx, dy_xhat, dyf = _maths.masked_backward(
      layout.grouped(dy, stat_dtype), layout.grouped(x, stat_dtype),
      layout.param(gamma), w, mean, rstd, total, w > 0, layout, layout.lib)
  return (layout.ungrouped(dx, x.dtype), layout.per_channel(dy_xhat),
          layout.per_channel(dyf))


def make_group_norm(lib: ArrayLibrary, normalize: Callable,
                    normalize_masked: Callable, library: str, module: str):
  """A kernel's public `group_norm` over its autodiff wrappers.

  Args:
    lib: The kernel's array library.
    normalize: (x, gamma, beta, layout) -> y, with the closed-form gradient.
    normalize_masked: (x, weights, gamma, beta, layout) -> y, the same.
    library: The library's name, for the docstring.
    module: The kernel's module, the function's `__module__`.
  """

  def group_norm(x,
                 groups: Optional[int] = 32,
                 gamma=None,
                 beta=None,
                 axis: int = -1,
                 epsilon: float = 1e-5,
                 group_size: Optional[int] = None,
                 activation: Optional[Callable] = None,
                 mask=None):
    x, gamma, beta, layout, weights = prepare(
        lib, x, groups, gamma, beta, axis, epsilon, group_size, mask)
    if weights is None:
      y = normalize(x, gamma, beta, layout)
    else:
      y = normalize_masked(x, weights, gamma, beta, layout)
    return activation(y) if activation is not None else y

  group_norm.__module__ = module
  group_norm.__doc__ = f"""Group normalization over channel groups and space.

  The {library} twin of `gn_keras.ops.group_norm`: the same arguments,
  defaults, errors and numerics (see that docstring for each argument).

  Args:
    x: Array of rank 2 to 5, e.g. `[N, H, W, C]` or `[N, C, H, W]`.
    groups: Number of groups, or -1 for one group per channel.
    gamma: Optional per-channel scale of shape `[C]`.
    beta: Optional per-channel offset of shape `[C]`.
    axis: The channel axis.
    epsilon: Added to the variance.
    group_size: Channels per group, the alternative to `groups`.
    activation: Optional elementwise callable applied to the output.
    mask: Optional boolean or float mask of x's shape, or of x's shape without
      the channel axis; statistics over the positions it keeps only.

  Returns:
    A {library} array with the shape and dtype of `x`.
  """
  return group_norm
