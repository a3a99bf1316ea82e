"""The group-normalization kernel for PyTorch, the Keras 3 layer's there.

The maths are the TensorFlow kernel's, written once in `gn_keras._maths`
(which says why each step is as it is); the argument checks, the grouped
view and the public function are the JAX kernel's too (`gn_keras._layout`).
What is PyTorch's own: the array library and the autograd functions. In
short:

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

import torch

from gn_keras import _layout


def _divide_no_nan(a, b):
  """The quotient a / b, and 0 where b is 0 (tf.math.divide_no_nan)."""
  nonzero = b != 0
  quotient = a / torch.where(nonzero, b, torch.ones_like(b))
  return torch.where(nonzero, quotient, torch.zeros_like(quotient))


def _tensor(value, dtype=None, like=None):
  """A torch tensor for an array, a tensor or a Keras variable (its value)."""
  value = getattr(value, 'value', value)  # Keras variables keep a Parameter.
  if isinstance(value, torch.Tensor):
    return value if dtype is None else value.to(dtype)
  return torch.as_tensor(value, dtype=dtype,
                         device=None if like is None else like.device)


_TORCH = _layout.ArrayLibrary(
    array=_tensor,
    full=lambda n, value, dtype, like: torch.full(
        (n,), value, dtype=dtype, device=like.device),
    cast=lambda t, dtype: t.to(dtype), reshape=torch.reshape,
    sum=lambda t, axes: torch.sum(t, axes, keepdim=True),
    expand_dims=torch.unsqueeze, broadcast_to=torch.broadcast_to,
    float32=torch.float32, float64=torch.float64, square=torch.square,
    maximum=torch.clamp_min, rsqrt=torch.rsqrt, where=torch.where,
    zeros_like=torch.zeros_like, ones_like=torch.ones_like,
    divide_no_nan=_divide_no_nan)


class _GroupNorm(torch.autograd.Function):
  """Group norm with the closed-form gradient (`_maths.backward`)."""

  @staticmethod
  def forward(ctx, x, gamma, beta, layout):
    y, *stats = _layout.forward(x, gamma, beta, layout)
    ctx.save_for_backward(x, gamma, beta, *stats)
    ctx.layout = layout
    return y

  @staticmethod
  def backward(ctx, dy):
    x, gamma, beta, *stats = ctx.saved_tensors
    layout = ctx.layout
    if torch.is_grad_enabled():  # create_graph: this backward is recorded.
      _, *stats = _layout.forward(x, gamma, beta, layout)
    return (*_layout.backward(dy, x, gamma, *stats, layout), None)


class _MaskedGroupNorm(torch.autograd.Function):
  """Masked group norm with its closed-form gradient; weights get none."""

  @staticmethod
  def forward(ctx, x, weights, gamma, beta, layout):
    y, *stats = _layout.masked_forward(x, weights, gamma, beta, layout)
    ctx.save_for_backward(x, weights, gamma, beta, *stats)
    ctx.layout = layout
    return y

  @staticmethod
  def backward(ctx, dy):
    x, weights, gamma, beta, *stats = ctx.saved_tensors
    layout = ctx.layout
    if torch.is_grad_enabled():  # create_graph: this backward is recorded.
      _, *stats = _layout.masked_forward(x, weights, gamma, beta, layout)
    dx, dgamma, dbeta = _layout.masked_backward(dy, x, weights, gamma, *stats,
                                                layout)
    return dx, None, dgamma, dbeta, None


group_norm = _layout.make_group_norm(_TORCH, _GroupNorm.apply,
                                     _MaskedGroupNorm.apply, 'PyTorch',
                                     __name__)
