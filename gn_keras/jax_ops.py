"""The group-normalization kernel for JAX: the Keras 3 layer's on that backend.

The maths are the TensorFlow kernel's, written once in `gn_keras._maths`
(which says why each step is as it is); the argument checks are shared too
(`gn_keras._args`). What is JAX's own: the layout, the custom VJP and the
masked path. In short:

* The channel axis is split in place into ``(groups, channels_per_group)``;
  nothing is transposed.
* Statistics are float32 whatever the input dtype (float64 stays float64),
  with the shifted two-pass variance and the mean carried as
  ``mean_hi + mean_lo``; the output is ``(x - mean_hi) * scale + shift``.
* The gradient is closed-form (`jax.custom_vjp`) and keeps only x and the
  per-(sample, group) statistics. Reverse over reverse (`jax.grad` of
  `jax.grad`, gradient penalties) differentiates the forward and backward
  rules themselves, statistics included, so it is exact; so does forward
  over reverse (`jax.hessian`). Plain forward mode (`jax.jvp` or
  `jax.jacfwd` of the op) is not defined for a custom VJP: JAX raises a
  TypeError that says so.
* Sums are plain reductions, channels-last ones over ``[N, S, C]`` (see
  `_Layout.channel_sums`): no ``ones @ x`` products, which JAX runs in TF32
  on GPUs by default.

Importing this module imports no TensorFlow.
"""

import functools
import types
from typing import Callable, Optional

import jax
import jax.numpy as jnp

from gn_keras import _layout
from gn_keras import _maths
from gn_keras._args import check_mask_shape
from gn_keras._args import normalize_axis
from gn_keras._args import resolve_groups


def _divide_no_nan(a, b):
  """The quotient a / b, and 0 where b is 0 (tf.math.divide_no_nan)."""
  nonzero = b != 0
  return jnp.where(nonzero, a / jnp.where(nonzero, b, 1), 0)


# The elementwise functions `_maths` takes from its kernel.
_FN = types.SimpleNamespace(
    square=jnp.square, maximum=jnp.maximum, rsqrt=jax.lax.rsqrt,
    where=jnp.where, zeros_like=jnp.zeros_like, ones_like=jnp.ones_like,
    divide_no_nan=_divide_no_nan)


class _Layout(_layout.GroupedLayout):
  """The grouped view of one input (`gn_keras._layout`), summed by jnp."""

  @staticmethod
  def _sum(t, axes):
    return jnp.sum(t, axes, keepdims=True)

  @staticmethod
  def _reshape(t, shape):
    return jnp.reshape(t, shape)


def group_norm(x,
               groups: Optional[int] = 32,
               gamma=None,
               beta=None,
               axis: int = -1,
               epsilon: float = 1e-5,
               group_size: Optional[int] = None,
               activation: Optional[Callable] = None,
               mask=None) -> jax.Array:
  """Group normalization of `x` over groups of channels and all spatial dims.

  The JAX twin of `gn_keras.ops.group_norm`: the same arguments, defaults,
  errors and numerics (see that docstring for each argument).

  Args:
    x: Array of rank 2 to 5, e.g. `[N, H, W, C]`.
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
    An array with the shape and dtype of `x`.
  """
  x = jnp.asarray(x)
  axis = normalize_axis(axis, x.ndim)
  channels = x.shape[axis]
  num_groups = resolve_groups(channels, groups, group_size)
  stat_dtype = jnp.float64 if x.dtype == jnp.float64 else jnp.float32
  gamma = _channel_param(gamma, channels, 1.0, stat_dtype, 'gamma')
  beta = _channel_param(beta, channels, 0.0, stat_dtype, 'beta')
  layout = _Layout.of(x.shape, axis, num_groups, epsilon)
  if mask is None:
    y = _group_norm(x, gamma, beta, layout)
  else:
    mask = jnp.asarray(mask)
    if check_mask_shape(mask.shape, x.shape, axis):
      mask = jnp.expand_dims(mask, axis)
    # Broadcast to x's shape, keeping a channel-less mask's 1 on that axis.
    channels_kept = 1 if mask.shape[axis] == 1 else channels
    weights = jnp.broadcast_to(
        mask.astype(stat_dtype),
        x.shape[:axis] + (channels_kept,) + x.shape[axis + 1:])
    y = _masked_group_norm(x, weights, gamma, beta, layout)
  return activation(y) if activation is not None else y


def _channel_param(value, channels, default, dtype, name):
  if value is None:
    return jnp.full((channels,), default, dtype)
  value = jnp.asarray(value).astype(dtype)
  if value.shape != (channels,):
    raise ValueError(f'`{name}` must have shape [{channels}] (one value per '
                     f'channel); received shape {value.shape}.')
  return value


def _grouped(t, layout, dtype):
  return jnp.reshape(t, layout.grouped_shape).astype(dtype)


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def _group_norm(x, gamma, beta, layout):
  return _forward(x, gamma, beta, layout)[0]


def _forward(x, gamma, beta, layout):
  y, mean_hi, mean_lo, rstd = _maths.forward(
      _grouped(x, layout, gamma.dtype),
      jnp.reshape(gamma, layout.param_shape),
      jnp.reshape(beta, layout.param_shape), layout.group_size,
      layout.epsilon, layout, _FN)
  y = jnp.reshape(y.astype(x.dtype), layout.shape)
  return y, (x, gamma, mean_hi, mean_lo, rstd)


def _group_norm_bwd(layout, residuals, dy):
  """The closed form (`_maths.backward`) for x, gamma and beta."""
  x, gamma, mean_hi, mean_lo, rstd = residuals
  stat_dtype = rstd.dtype
  dx, dgamma, dbeta = _maths.backward(
      _grouped(dy, layout, stat_dtype), _grouped(x, layout, stat_dtype),
      jnp.reshape(gamma, layout.param_shape), mean_hi, mean_lo, rstd,
      layout.group_size, layout)
  dx = jnp.reshape(dx.astype(x.dtype), layout.shape)
  dgamma = jnp.reshape(jnp.sum(dgamma, layout.batch_axes), (-1,))
  dbeta = jnp.reshape(jnp.sum(dbeta, layout.batch_axes), (-1,))
  return dx, dgamma, dbeta


# The forward rule is `_forward` itself: it returns (y, residuals).
_group_norm.defvjp(_forward, _group_norm_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(4,))
def _masked_group_norm(x, weights, gamma, beta, layout):
  return _masked_forward(x, weights, gamma, beta, layout)[0]


def _grouped_weights(weights, layout):
  if weights.shape == layout.shape:
    return jnp.reshape(weights, layout.grouped_shape)
  # One weight for all channels of a position: 1 on both channel axes.
  shape = list(layout.grouped_shape)
  shape[layout.channel_axis - 1] = shape[layout.channel_axis] = 1
  return jnp.reshape(weights, shape)


def _masked_forward(x, weights, gamma, beta, layout):
  y, mean, rstd, total, _ = _maths.masked_forward(
      _grouped(x, layout, gamma.dtype), _grouped_weights(weights, layout),
      jnp.reshape(gamma, layout.param_shape),
      jnp.reshape(beta, layout.param_shape), layout.epsilon, layout, _FN)
  y = jnp.reshape(y.astype(x.dtype), layout.shape)
  return y, (x, weights, gamma, mean, rstd, total)


def _masked_group_norm_bwd(layout, residuals, dy):
  """The masked closed form (`_maths.masked_backward`); weights get zeros."""
  x, weights, gamma, mean, rstd, total = residuals
  stat_dtype = rstd.dtype
  w = _grouped_weights(weights, layout)
  dx, dy_xhat, dyf = _maths.masked_backward(
      _grouped(dy, layout, stat_dtype), _grouped(x, layout, stat_dtype),
      jnp.reshape(gamma, layout.param_shape), w, mean, rstd, total, w > 0,
      layout, _FN)
  dx = jnp.reshape(dx.astype(x.dtype), layout.shape)
  dgamma = jnp.reshape(jnp.sum(dy_xhat, layout.batch_axes), (-1,))
  dbeta = jnp.reshape(jnp.sum(dyf, layout.batch_axes), (-1,))
  return dx, jnp.zeros_like(weights), dgamma, dbeta


_masked_group_norm.defvjp(_masked_forward, _masked_group_norm_bwd)
