"""The float64 NumPy group norm that the op and both layers are tested against.

NumPy only, so that any Keras backend's tests can use it.
"""

import contextlib

import numpy as np
import pytest


def reference(x, groups, gamma=None, beta=None, axis=-1, epsilon=1e-5):
  """Float64 NumPy group norm, written from the paper's definition."""
  x = np.asarray(x, np.float64)
  x = np.moveaxis(x, axis, -1)
  n, channels = x.shape[0], x.shape[-1]
  grouped = x.reshape(n, -1, groups, channels // groups)
  mean = grouped.mean(axis=(1, 3), keepdims=True)
  var = ((grouped - mean)**2).mean(axis=(1, 3), keepdims=True)
  y = ((grouped - mean) / np.sqrt(var + epsilon)).reshape(x.shape)
  if gamma is not None:
    y = y * np.asarray(gamma, np.float64)
  if beta is not None:
    y = y + np.asarray(beta, np.float64)
  return np.moveaxis(y, -1, axis)


def autodiff_reference(x, groups, gamma, beta, axis=-1, epsilon=1e-5,
                       moveaxis=None):
  """Plain group norm for a framework's autodiff to differentiate.

  Written with what NumPy, JAX and torch arrays share (`reshape`, `mean`
  with `axis` and `keepdims`, `**`), so each framework's own autodiff is the
  reference for the kernel's closed-form gradient.

  Args:
    x: The input (any of those arrays), channels on `axis`.
    groups: Number of groups.
    gamma: Per-channel scale.
    beta: Per-channel offset.
    axis: The channel axis.
    epsilon: Added to the variance.
    moveaxis: The framework's `moveaxis` (torch: `movedim`), for channels
      not last.
  """
  last = axis in (-1, x.ndim - 1)
  moved = x if last else moveaxis(x, axis, -1)
  grouped = moved.reshape(x.shape[0], -1, groups, moved.shape[-1] // groups)
  mean = grouped.mean(axis=(1, 3), keepdims=True)
  var = ((grouped - mean)**2).mean(axis=(1, 3), keepdims=True)
  y = ((grouped - mean) * (var + epsilon)**-0.5).reshape(moved.shape)
  y = y * gamma + beta
  return y if last else moveaxis(y, -1, axis)


def masked_reference(x, groups, weights, gamma=None, beta=None, axis=-1,
                      epsilon=1e-5):
  """Float64 NumPy group norm with frequency-weighted statistics."""
  x = np.moveaxis(np.asarray(x, np.float64), axis, -1)
  w = np.moveaxis(np.broadcast_to(np.asarray(weights, np.float64),
                                  np.moveaxis(x, -1, axis).shape), axis, -1)
  n, channels = x.shape[0], x.shape[-1]
  grouped = x.reshape(n, -1, groups, channels // groups)
  wg = w.reshape(grouped.shape)
  kept = np.where(wg > 0, grouped, 0.0)
  total = wg.sum(axis=(1, 3), keepdims=True)
  mean = np.divide((wg * kept).sum(axis=(1, 3), keepdims=True), total,
                   out=np.zeros_like(total), where=total > 0)
  var = np.divide((wg * (kept - mean)**2).sum(axis=(1, 3), keepdims=True),
                  total, out=np.zeros_like(total), where=total > 0)
  y = ((grouped - mean) / np.sqrt(var + epsilon)).reshape(x.shape)
  if gamma is not None:
    y = y * gamma
  if beta is not None:
    y = y + beta
  return np.moveaxis(y, -1, axis)


# The mask cases both kernels are tested on: (shape, axis, the mask lacks the
# channel axis, as Keras propagates it).
MASK_CASES = [((2, 7, 8), -1, True), ((2, 7, 8), -1, False),
              ((2, 8, 7), 1, True), ((2, 3, 4, 8), -1, True),
              ((2, 8, 3, 4), 1, False)]


def random_mask(shape, axis, channelless, kind, seed=7):
  """A bool or float (weights 0-2) mask, and its weights of x's rank."""
  mask_shape = list(shape)
  if channelless:
    del mask_shape[axis]
  rng = np.random.default_rng(seed)
  mask = (rng.random(mask_shape) > 0.4 if kind == 'bool' else
          rng.integers(0, 3, mask_shape).astype(np.float32))
  weights = np.expand_dims(mask, axis) if channelless else mask
  return mask, weights.astype(np.float64)


_SAMPLES = np.random.default_rng(1)


def sample(shape=(4, 6, 6, 8), loc=1.0):
  """A float32 layer input, normal around `loc` with scale 2."""
  return _SAMPLES.normal(loc, 2.0, size=shape).astype('float32')


def random_affine_layer(layer_class):
  """A built GN layer (G=4) with random gamma and beta, for 2nd-order checks.

  Returns:
    (the layer, an input of shape (2, 4, 4, 8), gamma and beta in float64).
  """
  layer = layer_class(groups=4, gamma_initializer='random_uniform',
                      beta_initializer='random_normal')
  x = sample((2, 4, 4, 8))
  layer.build(x.shape)
  gamma, beta = (np.asarray(w, np.float64) for w in layer.get_weights())
  return layer, x, gamma, beta


# The mixed-precision policies the layers are tested under, with their
# compute dtypes.
MIXED_POLICIES = pytest.mark.parametrize(
    'policy,compute', [('mixed_float16', 'float16'),
                       ('mixed_bfloat16', 'bfloat16')])


@contextlib.contextmanager
def global_policy(set_policy, policy: str):
  """Sets a Keras dtype policy for the block, float32 again after it."""
  set_policy(policy)
  try:
    yield
  finally:
    set_policy('float32')


def mask_cases(test):
  """Parametrizes a test over MASK_CASES and both kinds of mask."""
  test = pytest.mark.parametrize('shape,axis,channelless', MASK_CASES)(test)
  return pytest.mark.parametrize('kind', ['bool', 'float'])(test)


def check_masked_op(group_norm, shape, axis, channelless, kind,
                    to_array=np.asarray):
  """A kernel's masked group norm equals `masked_reference` (a mask case).

  Args:
    group_norm: The kernel's op (TensorFlow, JAX or torch).
    shape: The input's shape (a `mask_cases` case, as the three below).
    axis: The channel axis.
    channelless: Whether the mask lacks the channel axis.
    kind: 'bool' or 'float' (weights).
    to_array: Makes the kernel's array of a NumPy one.
  """
  rng = np.random.default_rng(11)
  x = rng.normal(3.0, 2.0, shape).astype(np.float32)
  gamma, beta = (rng.normal(size=8).astype(np.float32) for _ in range(2))
  mask, weights = random_mask(shape, axis, channelless, kind)
  got = group_norm(to_array(x), 4, to_array(gamma), to_array(beta),
                   axis=axis, mask=to_array(mask))
  np.testing.assert_allclose(
      np.asarray(got), masked_reference(x, 4, weights, gamma, beta, axis=axis),
      atol=2e-5)


# Bad op arguments and the TensorFlow op's messages, which the JAX and torch
# ops raise too, on an input of shape (2, 5, 8).
BAD_OP_ARGUMENTS = [
    (dict(groups=3), r'channels \(8\) must be a multiple of `groups`'),
    (dict(groups=2, group_size=4), 'exactly one of `groups` and `group_size`'),
    (dict(groups=2, axis=0), 'cannot be 0, the batch axis'),
    (dict(groups=2, gamma=np.ones(4)), r'`gamma` must have shape \[8\]'),
    (dict(groups=2, mask=np.ones((2, 5, 3), bool)),
     r"`mask` must have the input's shape \(2, 5, 8\) or that shape without "
     r'the channel axis 2; received shape \(2, 5, 3\)'),
]
