"""The group-normalization kernel for JAX: the Keras 3 layer's on that backend.

The maths are the TensorFlow kernel's, written once in `gn_keras._maths`
(which says why each step is as it is); the argument checks, the grouped
view and the public function are the PyTorch kernel's too
(`gn_keras._layout`). What is JAX's own: the array library and the custom
VJPs. In short:

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
  `GroupedLayout.channel_sums`): no ``ones @ x`` products, which JAX runs in
  TF32 on GPUs by default.

Importing this module imports no TensorFlow.
"""

import functools

import jax
import jax.numpy as jnp

from gn_keras import _layout


def _divide_no_nan(a, b):
  """The quotient a / b, and 0 where b is 0 (tf.math.divide_no_nan)."""
  nonzero = b != 0
  return jnp.where(nonzero, a / jnp.where(nonzero, b, 1), 0)


def _array(value, dtype=None, like=None):
  del like  # One device: JAX places arrays itself.
  value = jnp.asarray(value)
  return value if dtype is None else value.astype(dtype)


_JNP = _layout.ArrayLibrary(
    array=_array,
    full=lambda n, value, dtype, like: jnp.full((n,), value, dtype),
    cast=lambda t, dtype: t.astype(dtype), reshape=jnp.reshape,
    sum=lambda t, axes: jnp.sum(t, axes, keepdims=True),
    expand_dims=jnp.expand_dims, broadcast_to=jnp.broadcast_to,
    float32=jnp.float32, float64=jnp.float64, square=jnp.square,
    maximum=jnp.maximum, rsqrt=jax.lax.rsqrt, where=jnp.where,
    zeros_like=jnp.zeros_like, ones_like=jnp.ones_like,
    divide_no_nan=_divide_no_nan)


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def _group_norm(x, gamma, beta, layout):
  return _layout.forward(x, gamma, beta, layout)[0]


def _group_norm_fwd(x, gamma, beta, layout):
  y, *stats = _layout.forward(x, gamma, beta, layout)
  return y, (x, gamma, *stats)


def _group_norm_bwd(layout, residuals, dy):
  """The closed form for x, gamma and beta; keeps only x and the stats."""
  return _layout.backward(dy, *residuals, layout)


_group_norm.defvjp(_group_norm_fwd, _group_norm_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(4,))
def _masked_group_norm(x, weights, gamma, beta, layout):
  return _layout.masked_forward(x, weights, gamma, beta, layout)[0]


def _masked_group_norm_fwd(x, weights, gamma, beta, layout):
  y, *stats = _layout.masked_forward(x, weights, gamma, beta, layout)
  return y, (x, weights, gamma, *stats)


def _masked_group_norm_bwd(layout, residuals, dy):
  """The masked closed form; the weights get zeros."""
  dx, dgamma, dbeta = _layout.masked_backward(dy, *residuals, layout)
  return dx, jnp.zeros_like(residuals[1]), dgamma, dbeta


_masked_group_norm.defvjp(_masked_group_norm_fwd, _masked_group_norm_bwd)

group_norm = _layout.make_group_norm(_JNP, _group_norm, _masked_group_norm,
                                     'JAX', __name__)
