"""The group-normalization kernel for PyTorch, the Keras 3 layer's there.

The maths are the TensorFlow kernel's, written once in `gn_keras._maths`
(which says why each step is as it is); the argument checks are shared too
(`gn_keras._args`). What is PyTorch's own: the layout and the autograd
functions. In short:

* The channel axis is split in place into ``(groups, channels_per_group)``;
  nothing is transposed.
* Statistics are float32 whatever the input dtype (float64 stays float64),
  with the shifted two-pass variance and the mean carried as
  ``mean_hi + mean_lo``: mean 1e4, std 1e-2 normalizes correctly in float32.
* The gradient is closed-form (a `torch.autograd.Function`) and keeps only x
  and the per-(sample, group) statistics. Its backward is itself
  differentiable: under `create_graph=True` (gradient penalties, double
  backward) it recomputes the statistics from x on the tape first, since the
  saved ones were computed where autograd recorded nothing, and taken as
  constants they would make the second order silently wrong.
* Sums are plain reductions, channels-last ones over ``[N, S, C]``: no
  ``ones @ x`` products, which may run in TF32 on GPUs.

Importing this module imports no TensorFlow.
"""

import types
from typing import Callable, Optional

import torch

from gn_keras import _layout
from gn_keras import _maths
from gn_keras._args import check_mask_shape
from gn_keras._args import normalize_axis
from gn_keras._args import resolve_groups


def _divide_no_nan(a, b):
  """The quotient a / b, and 0 where b is 0 (tf.math.divide_no_nan)."""
  nonzero = b != 0
  quotient = a / torch.where(nonzero, b, torch.ones_like(b))
  return torch.where(nonzero, quotient, torch.zeros_like(quotient))


# The elementwise functions `_maths` takes from its kernel.
_FN = types.SimpleNamespace(
    square=torch.square, maximum=torch.clamp_min, rsqrt=torch.rsqrt,
    where=torch.where, zeros_like=torch.zeros_like, ones_like=torch.ones_like,
    divide_no_nan=_divide_no_nan)


class _Layout(_layout.GroupedLayout):
  """The grouped view of one input (`gn_keras._layout`), summed by torch."""

  @staticmethod
  def _sum(t, axes):
    return torch.sum(t, axes, keepdim=True)

  @staticmethod
  def _reshape(t, shape):
    return torch.reshape(t, shape)


def _tensor(value, dtype=None, device=None):
  """A torch tensor for an array, a tensor or a Keras variable (its value)."""
  value = getattr(value, 'value', value)  # Keras variables keep a Parameter.
  if isinstance(value, torch.Tensor):
    return value if dtype is None else value.to(dtype)
  return torch.as_tensor(value, dtype=dtype, device=device)


def group_norm(x,
               groups: Optional[int] = 32,
               gamma=None,
               beta=None,
               axis: int = -1,
               epsilon: float = 1e-5,
               group_size: Optional[int] = None,
               activation: Optional[Callable] = None,
               mask=None) -> torch.Tensor:
  """Group normalization of `x` over groups of channels and all spatial dims.

  The PyTorch twin of `gn_keras.ops.group_norm`: the same arguments, defaults,
  errors and numerics (see that docstring for each argument).

  Args:
    x: Tensor of rank 2 to 5, e.g. `[N, H, W, C]` or `[N, C, H, W]`.
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
    A tensor with the shape and dtype of `x`.
  """
  x = _tensor(x)
  axis = normalize_axis(axis, x.ndim)
  channels = x.shape[axis]
  num_groups = resolve_groups(channels, groups, group_size)
  stat_dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
  gamma = _channel_param(gamma, channels, 1.0, stat_dtype, x.device, 'gamma')
  beta = _channel_param(beta, channels, 0.0, stat_dtype, x.device, 'beta')
  layout = _Layout.of(tuple(x.shape), axis, num_groups, epsilon)
  if mask is None:
    y = _GroupNorm.apply(x, gamma, beta, layout)
  else:
    mask = _tensor(mask, device=x.device)
    if check_mask_shape(tuple(mask.shape), tuple(x.shape), axis):
      mask = torch.unsqueeze(mask, axis)
    # Broadcast to x's shape, keeping a channel-less mask's 1 on that axis.
    channels_kept = 1 if mask.shape[axis] == 1 else channels
    weights = torch.broadcast_to(
        mask.to(stat_dtype),
        tuple(x.shape[:axis]) + (channels_kept,) + tuple(x.shape[axis + 1:]))
    y = _MaskedGroupNorm.apply(x, weights, gamma, beta, layout)
  return activation(y) if activation is not None else y


def _channel_param(value, channels, default, dtype, device, name):
  if value is None:
    return torch.full((channels,), default, dtype=dtype, device=device)
  value = _tensor(value, dtype, device)
  if tuple(value.shape) != (channels,):
    raise ValueError(f'`{name}` must have shape [{channels}] (one value per '
                     f'channel); received shape {tuple(value.shape)}.')
  return value


def _grouped(t, layout, dtype):
  return torch.reshape(t, layout.grouped_shape).to(dtype)


def _per_channel(t, layout):
  """Sums per-(sample, channel) values over the batch: shape [C]."""
  return torch.reshape(torch.sum(t, layout.batch_axes), (-1,))


def _forward(x, gamma, beta, layout):
  y, mean_hi, mean_lo, rstd = _maths.forward(
      _grouped(x, layout, gamma.dtype),
      torch.reshape(gamma, layout.param_shape),
      torch.reshape(beta, layout.param_shape), layout.group_size,
      layout.epsilon, layout, _FN)
  return torch.reshape(y.to(x.dtype), layout.shape), mean_hi, mean_lo, rstd


class _GroupNorm(torch.autograd.Function):
  """Group norm with the closed-form gradient (`_maths.backward`)."""

  @staticmethod
  def forward(ctx, x, gamma, beta, layout):
    y, mean_hi, mean_lo, rstd = _forward(x, gamma, beta, layout)
    ctx.save_for_backward(x, gamma, beta, mean_hi, mean_lo, rstd)
    ctx.layout = layout
    return y

  @staticmethod
  def backward(ctx, dy):
    x, gamma, beta, mean_hi, mean_lo, rstd = ctx.saved_tensors
    layout = ctx.layout
    if torch.is_grad_enabled():  # create_graph: this backward is recorded.
      _, mean_hi, mean_lo, rstd = _forward(x, gamma, beta, layout)
    stat_dtype = rstd.dtype
    dx, dgamma, dbeta = _maths.backward(
        _grouped(dy, layout, stat_dtype), _grouped(x, layout, stat_dtype),
        torch.reshape(gamma, layout.param_shape), mean_hi, mean_lo, rstd,
        layout.group_size, layout)
    dx = torch.reshape(dx.to(x.dtype), layout.shape)
    return dx, _per_channel(dgamma, layout), _per_channel(dbeta, layout), None


def _grouped_weights(weights, layout):
  if tuple(weights.shape) == layout.shape:
    return torch.reshape(weights, layout.grouped_shape)
  # One weight for all channels of a position: 1 on both channel axes.
  shape = list(layout.grouped_shape)
  shape[layout.channel_axis - 1] = shape[layout.channel_axis] = 1
  return torch.reshape(weights, shape)


def _masked_forward(x, w, gamma, beta, layout):
  y, mean, rstd, total, keep = _maths.masked_forward(
      _grouped(x, layout, gamma.dtype), w,
      torch.reshape(gamma, layout.param_shape),
      torch.reshape(beta, layout.param_shape), layout.epsilon, layout, _FN)
  return torch.reshape(y.to(x.dtype), layout.shape), mean, rstd, total, keep


class _MaskedGroupNorm(torch.autograd.Function):
  """Masked group norm with its closed-form gradient; weights get none."""

  @staticmethod
  def forward(ctx, x, weights, gamma, beta, layout):
    w = _grouped_weights(weights, layout)
    y, mean, rstd, total, _ = _masked_forward(x, w, gamma, beta, layout)
    ctx.save_for_backward(x, weights, gamma, beta, mean, rstd, total)
    ctx.layout = layout
    return y

  @staticmethod
  def backward(ctx, dy):
    x, weights, gamma, beta, mean, rstd, total = ctx.saved_tensors
    layout = ctx.layout
    w = _grouped_weights(weights, layout)
    if torch.is_grad_enabled():  # create_graph: this backward is recorded.
      _, mean, rstd, total, _ = _masked_forward(x, w, gamma, beta, layout)
    stat_dtype = rstd.dtype
    dx, dy_xhat, dyf = _maths.masked_backward(
        _grouped(dy, layout, stat_dtype), _grouped(x, layout, stat_dtype),
        torch.reshape(gamma, layout.param_shape), w, mean, rstd, total, w > 0,
        layout, _FN)
    dx = torch.reshape(dx.to(x.dtype), layout.shape)
    return (dx, None, _per_channel(dy_xhat, layout), _per_channel(dyf, layout),
            None)
