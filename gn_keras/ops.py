"""The group-normalization kernel: one pure-TensorFlow op used by every layer.

Group Normalization (Wu & He, 2018) splits the channels into groups and
normalizes each (sample, group) over the group's channels and every spatial
position:

    y = (x - mean[n, g]) * rsqrt(var[n, g] + epsilon) * gamma[c] + beta[c]

How this op does it (see docs/DESIGN.md, "The kernel"; the formulas, which
the JAX kernel shares, are in `gn_keras._maths`):

* The channel axis is split in place into ``(groups, channels_per_group)`` by a
  reshape; nothing is transposed, so channels-last and channels-first inputs
  both stay in their memory order.
* Statistics are float32 whatever the input dtype (float64 stays float64).
  The variance is a shifted two-pass one and the mean is carried as
  ``mean_hi + mean_lo``: no cancellation on data whose mean is large against
  its spread (mean 1e4, std 1e-2 normalizes correctly in float32).
* ``gamma`` and ``rstd`` fold into one per-(sample, channel) ``scale``; the
  output is ``(x - mean) * scale + beta``, centred before scaling because the
  fully folded ``x * scale + shift`` loses |mean|/std times more precision.
* The gradient is closed-form (``tf.custom_gradient``) and keeps only x, the
  mean (as its two parts) and the reciprocal standard deviation, one value
  per sample and group. Its own gradient (second order: gradient penalties,
  Hessian-vector products) is autodiff of the same closed form with the
  statistics recomputed from x, so that their dependence on x is not lost.
* Channels-last per-channel sums are ``ones @ x`` matrix products on CPU-only
  hosts, where middle-axis reductions are several times slower, but never in
  a graph being saved: it may run later on a GPU, in TF32.
* Static dimensions stay static; only unknown ones go through ``tf.shape``,
  so the op compiles under XLA (``jit_compile=True``) and on TPU. Outside
  XLA the op compiles its own forward and backward maths (``_compiled``),
  except in graphs being saved and with GN_KERAS_JIT=0.
"""

import contextlib
import functools
import os
import sys
import threading
import types
from typing import Callable, List, Optional, Union

import tensorflow as tf
from tensorflow.python.saved_model import save_context  # No public API.

from gn_keras import _maths

# Re-exported: the checks are shared with the JAX kernel and the layers.
from gn_keras._args import check_group_args  # noqa: F401
from gn_keras._args import check_mask_shape
from gn_keras._args import normalize_axis
from gn_keras._args import resolve_groups

Dim = Union[int, tf.Tensor]

# The elementwise functions `_maths` takes from its kernel.
_FN = types.SimpleNamespace(
    square=tf.square, maximum=tf.maximum, rsqrt=tf.math.rsqrt,
    where=tf.where, zeros_like=tf.zeros_like, ones_like=tf.ones_like,
    divide_no_nan=tf.math.divide_no_nan)


def _dims(x: tf.Tensor) -> List[Dim]:
  """Static dims where known, scalar tensors where not (XLA keeps them)."""
  static = x.shape.as_list()
  if all(d is not None for d in static):
    return static
  dynamic = tf.shape(x)
  return [d if d is not None else dynamic[i] for i, d in enumerate(static)]


def group_norm(x: tf.Tensor,
               groups: Optional[int] = 32,
               gamma: Optional[tf.Tensor] = None,
               beta: Optional[tf.Tensor] = None,
               axis: int = -1,
               epsilon: float = 1e-5,
               group_size: Optional[int] = None,
               activation: Optional[Callable[[tf.Tensor], tf.Tensor]] = None,
               mask: Optional[tf.Tensor] = None) -> tf.Tensor:
  """Group normalization of `x` over groups of channels and all spatial dims.

  With `groups=1` this is layer normalization over all non-batch axes with a
  per-channel affine; with `groups=-1` (one channel per group) it is instance
  normalization.

  Args:
    x: Tensor of rank 2 to 5, e.g. `[N, H, W, C]`; float16, bfloat16, float32
      or float64. The channel dimension must be static; the batch and spatial
      dimensions may be unknown.
    groups: Number of groups, or -1 for one group per channel. Defaults to 32.
      Set to None when `group_size` is used.
    gamma: Optional per-channel scale of shape `[C]`. Defaults to ones.
    beta: Optional per-channel offset of shape `[C]`. Defaults to zeros.
    axis: The channel axis: -1 for channels-last, 1 for channels-first.
      Defaults to -1.
    epsilon: Added to the variance before the reciprocal square root.
      Defaults to 1e-5.
    group_size: Channels per group, the alternative to `groups`. Defaults to
      None.
    activation: Optional elementwise callable applied to the normalized
      output, after the group-norm op (so its gradient is autodiff's; under
      an XLA function XLA fuses the two). Defaults to None.
    mask: Optional boolean or float mask; the statistics are taken over the
      positions it keeps only (a float mask weighs each position, as
      frequency weights). Its shape is the input's, or the input's without
      the channel axis (the mask Keras propagates, e.g. `[N, T]` for
      `[N, T, C]`). Masked positions never enter the statistics, so NaN or
      inf there changes no output elsewhere; they are still normalized with
      their group's statistics. A group with nothing kept gets mean 0 and
      variance 0. Defaults to None.

  Returns:
    A tensor with the shape and dtype of `x`.

  Raises:
    ValueError: for an input rank outside 2..5, an axis out of range or equal
      to 0, an unknown channel dimension, or groups that do not fit.

  Example:
  >>> x = tf.random.normal([2, 8, 8, 64])
  >>> y = group_norm(x, groups=32)
  >>> y.shape
  TensorShape([2, 8, 8, 64])
  """
  x = tf.convert_to_tensor(x)
  rank = x.shape.rank
  axis = normalize_axis(axis, rank)
  channels = x.shape[axis]
  if channels is None:
    raise ValueError(
        f'The channel dimension (axis {axis}) must be known; received an '
        f'input of shape {x.shape}.')
  num_groups = resolve_groups(channels, groups, group_size)

  stat_dtype = tf.float64 if x.dtype == tf.float64 else tf.float32
  gamma = _channel_param(gamma, channels, 1.0, stat_dtype, 'gamma')
  beta = _channel_param(beta, channels, 0.0, stat_dtype, 'beta')
  if mask is None:
    y = _group_norm(x, gamma, beta, axis, num_groups, float(epsilon))
  else:
    weights = _mask_weights(mask, x, axis, stat_dtype)
    y = _masked_group_norm(x, weights, gamma, beta, axis, num_groups,
                           float(epsilon))
  return activation(y) if activation is not None else y


def _mask_weights(mask, x, axis, dtype):
  """The mask as weights of x's rank (1 on the channel axis if it had none)."""
  mask = tf.convert_to_tensor(mask)
  if mask.shape.rank is None:
    raise ValueError('`mask` must have a known rank.')
  if check_mask_shape(mask.shape.as_list(), x.shape.as_list(), axis):
    mask = tf.expand_dims(mask, axis)
  return tf.cast(mask, dtype)


def _channel_param(value, channels, default, dtype, name):
  if value is None:
    return tf.fill([channels], tf.constant(default, dtype))
  value = tf.cast(value, dtype)
  if value.shape.rank != 1 or value.shape[0] not in (None, channels):
    raise ValueError(f'`{name}` must have shape [{channels}] (one value per '
                     f'channel); received shape {value.shape}.')
  return value


class _Layout:
  """Shapes of the grouped view of one input.

  The channel axis becomes two axes, groups and channels per group, and
  statistics are reduced over every axis but the batch and group axes. With
  channels first or last and static spatial dimensions, the spatial axes
  merge into one: the view is `[N, S, G, C/G]` or `[N, G, C/G, S]`, rank 4
  whatever the input's rank (TFLite's GPU delegate and NNAPI take no rank
  above 4). Otherwise the view is `[N, ..., G, C/G, ...]` in place. An
  unknown batch is reshaped as -1 when all else is static, so the graph holds
  no shape-computing ops (SHAPE, STRIDED_SLICE, PACK).
  """

  def __init__(self, x: tf.Tensor, axis: int, groups: int):
    dims = _dims(x)
    static = x.shape.as_list()
    rank = len(dims)
    channels = static[axis]
    per_group = channels // groups
    batch = -1 if all(d is not None for d in static[1:]) else dims[0]
    self.axis = axis  # The channel axis of x.
    self.dims = dims  # With the batch as a tensor if unknown: to broadcast.
    self.shape = [batch] + dims[1:]  # For reshapes.
    spatial_dims = dims[1:axis] + dims[axis + 1:]
    spatial = 1
    for d in spatial_dims:
      spatial = spatial * d
    self.spatial_size = spatial  # Elements per (sample, channel).
    self.group_size = spatial * per_group  # Elements per (sample, group).
    self.channels_last = axis == rank - 1
    merged = (axis in (1, rank - 1) and spatial_dims and
              all(isinstance(d, int) for d in spatial_dims))
    if merged and self.channels_last:
      self.grouped_shape = [batch, spatial, groups, per_group]
      self.param_shape = [1, 1, groups, per_group]
      self.spatial_axes, self.channel_axis = [1], 3
    elif merged:
      self.grouped_shape = [batch, groups, per_group, spatial]
      self.param_shape = [1, groups, per_group, 1]
      self.spatial_axes, self.channel_axis = [3], 2
    else:
      self.grouped_shape = ([batch] + dims[1:axis] + [groups, per_group] +
                            dims[axis + 1:])
      self.param_shape = ([1] * axis + [groups, per_group] +
                          [1] * (rank - 1 - axis))
      # Every axis but batch, groups and channels per group is "spatial", so
      # sums over them alone give per-(sample, channel) values.
      self.spatial_axes = [i for i in range(1, rank + 1)
                           if i not in (axis, axis + 1)]
      self.channel_axis = axis + 1
    self.stat_axes = sorted(self.spatial_axes + [self.channel_axis])
    self.batch_axes = [0] + self.spatial_axes

  def channel_sums(self, t: tf.Tensor) -> tf.Tensor:
    """Sums a grouped-view tensor over the spatial axes: [N, 1.., G, C/G, 1..].

    Channels-last sums reduce a middle axis, which XLA:CPU and Eigen do several
    times slower than a memory-bound matrix product; where only CPUs compute,
    the sum is `ones[N, 1, S] @ t[N, S, C]` (exact float32 there). Accelerators
    (TF32 on GPU, bfloat16 passes on TPU) keep the plain reduction, and so does
    a graph being saved: it may later run anywhere.
    """
    if not self.spatial_axes:
      return t
    if self.channels_last and _matmul_sums():
      batch, groups, per_group = self.grouped_shape[0], *self.grouped_shape[-2:]
      # The real batch size here (a shape op is fine: saved graphs, TFLite
      # included, never take this path); XLA's dot is slow to broadcast.
      ones = tf.ones([self.dims[0], 1, self.spatial_size], t.dtype)
      sums = tf.matmul(ones, tf.reshape(
          t, [batch, self.spatial_size, groups * per_group]))
      return tf.reshape(sums, [batch] + [1] * len(self.spatial_axes) +
                        [groups, per_group])
    return tf.reduce_sum(t, self.spatial_axes, keepdims=True)

  def group_sums(self, per_channel: tf.Tensor) -> tf.Tensor:
    """Sums per-(sample, channel) values over each group: [N, 1.., G, 1..]."""
    return tf.reduce_sum(per_channel, self.channel_axis, keepdims=True)

  def stat_sums(self, t: tf.Tensor) -> tf.Tensor:
    """Sums a grouped-view tensor over each (sample, group) at once."""
    return tf.reduce_sum(t, self.stat_axes, keepdims=True)


_exporting = threading.local()


@contextlib.contextmanager
def for_export():
  """Traces graphs that are exact wherever they later run, and portable.

  Recognized by themselves: `tf.saved_model.save`, Keras' `export` (every
  format, ONNX included), tf2onnx (`from_keras`, `from_function`) and
  TFLite's converter. Other code that traces its concrete functions before
  saving or converting them (Model Garden's export does) traces them inside
  this context, so that no CPU-only `ones @ x` sums (see
  `_Layout.channel_sums`) and no XLA-compiled inner function are baked in.

  Yields:
    Nothing.
  """
  depth = getattr(_exporting, 'depth', 0)
  _exporting.depth = depth + 1
  try:
    yield
  finally:
    _exporting.depth = depth


# Exporters that trace a model's functions themselves, outside any save
# context, and take the graph out of TensorFlow: an XLA-compiled inner function
# reaches tf2onnx as a `PartitionedCall` it cannot convert (an invalid ONNX
# file), and TFLite's converter as a call it cannot lower.
_EXPORTER_MODULES = ('tf2onnx.', 'keras.src.export.', 'tf_keras.src.export.',
                     'tensorflow.lite.python.')


def _tracing_for_export() -> bool:
  """Whether the graph being traced is for export (see `for_export`)."""
  return (save_context.in_save_context() or
          bool(getattr(_exporting, 'depth', 0)) or
          (tf.inside_function() and _traced_by_exporter()))


def _traced_by_exporter() -> bool:
  """Whether an exporter's code is on the stack (we are tracing for it).

  Runs only while a graph is built, once per op built; a stack is a few
  hundred frames deep at most.
  """
  frame = sys._getframe(1)  # noqa: SLF001
  while frame is not None:
    if frame.f_globals.get('__name__', '').startswith(_EXPORTER_MODULES):
      return True
    frame = frame.f_back
  return False


def _matmul_sums() -> bool:
  """Whether channels-last sums may be `ones @ x` products (see above).

  Only on a CPU-only host, and never in a graph traced for export (while a
  SavedModel is written, or inside `for_export`): a saved graph, and a
  TFLite model made from it, must be exact on the hardware that loads it,
  where a float32 matmul may run in TF32.
  """
  return _cpu_only() and not _tracing_for_export()


@functools.lru_cache(maxsize=None)
def _cpu_only() -> bool:
  """True when no GPU or TPU is visible to TensorFlow."""
  return not any(tf.config.list_physical_devices(kind)
                 for kind in ('GPU', 'TPU'))


def _compile_inside() -> bool:
  """Whether the op compiles its own forward and backward maths with XLA.

  Plain graph mode (Model Garden's trainer, Keras' `fit` without
  `jit_compile`) would run them as a dozen unfused ops, about 2x the time of
  fused batch norm on CPU; compiled, they take about BN's time. Off where a
  graph is being saved (it may run anywhere, TFLite included: see
  `_matmul_sums`) and when GN_KERAS_JIT=0. Inside an XLA function already,
  the compiled maths are inlined into it.
  """
  return (os.environ.get('GN_KERAS_JIT', '1') != '0' and
          not _tracing_for_export())


@functools.lru_cache(maxsize=None)
def _compiled(maths, axis, groups, epsilon, sample_shape):
  """`maths` for one static configuration as an XLA-compiled tf.function.

  One per configuration and per-sample shape (cached), so that
  `reduce_retracing` can only generalize the batch dimension (the second
  batch size seen makes it unknown; the layout needs the rest static). XLA
  compiles once per concrete shape.
  """
  del sample_shape  # Only a cache key.
  return tf.function(
      functools.partial(maths, axis=axis, groups=groups, epsilon=epsilon),
      jit_compile=True, reduce_retracing=True, autograph=False)


def _maybe_compiled(maths, x, axis, groups, epsilon):
  if _compile_inside():
    return _compiled(maths, axis, groups, epsilon, tuple(x.shape[1:]))
  return functools.partial(maths, axis=axis, groups=groups, epsilon=epsilon)


def _group_norm(x, gamma, beta, axis, groups, epsilon):
  """Builds the custom-gradient op for one static configuration."""
  forward_maths = _maybe_compiled(_forward_maths, x, axis, groups, epsilon)
  backward_maths = _maybe_compiled(_backward_maths, x, axis, groups, epsilon)

  @tf.custom_gradient
  def forward(x, gamma, beta):
    y, mean_hi, mean_lo, rstd = forward_maths(x, gamma, beta)

    def grad(dy):
      return _backward(dy, x, gamma, mean_hi, mean_lo, rstd, axis, groups,
                       epsilon, backward_maths)

    return y, grad

  return forward(x, gamma, beta)


def _forward_maths(x, gamma, beta, axis, groups, epsilon):
  """The output and the statistics (mean_hi, mean_lo, rstd), from x."""
  layout = _Layout(x, axis, groups)
  stat_dtype = gamma.dtype
  xf = tf.cast(tf.reshape(x, layout.grouped_shape), stat_dtype)
  y, mean_hi, mean_lo, rstd = _maths.forward(
      xf, tf.reshape(gamma, layout.param_shape),
      tf.reshape(beta, layout.param_shape),
      tf.cast(layout.group_size, stat_dtype), epsilon, layout, _FN)
  y = tf.reshape(tf.cast(y, x.dtype), layout.shape)
  return y, mean_hi, mean_lo, rstd


def _grouped_weights(weights, layout):
  """Weights of x's rank in the grouped view, broadcastable to it."""
  dims, axis = list(layout.dims), layout.axis
  if weights.shape[axis] == 1:  # One weight for all channels of a position.
    dims[axis] = 1
    grouped = list(layout.grouped_shape)
    grouped[layout.channel_axis - 1] = 1
    grouped[layout.channel_axis] = 1
    return tf.reshape(tf.broadcast_to(weights, dims), grouped)
  return tf.reshape(tf.broadcast_to(weights, dims), layout.grouped_shape)


def _masked_group_norm(x, weights, gamma, beta, axis, groups, epsilon):
  """Group norm whose statistics are over the mask's positions only."""
  layout = _Layout(x, axis, groups)
  stat_dtype = gamma.dtype
  w = _grouped_weights(weights, layout)

  @tf.custom_gradient
  def forward(x, gamma, beta):
    xf = tf.cast(tf.reshape(x, layout.grouped_shape), stat_dtype)
    y, mean, rstd, total, keep = _maths.masked_forward(
        xf, w, tf.reshape(gamma, layout.param_shape),
        tf.reshape(beta, layout.param_shape), epsilon, layout, _FN)
    y = tf.reshape(tf.cast(y, x.dtype), layout.shape)

    def grad(dy):
      return _masked_backward(dy, x, gamma, mean, rstd, total, keep, w,
                              layout, epsilon)

    return y, grad

  return forward(x, gamma, beta)


def _masked_backward(dy, x, gamma, mean, rstd, total, keep, w, layout,
                     epsilon):
  """Closed-form gradient of the masked group norm (`_maths`), and its own."""

  @tf.custom_gradient
  def backward(dy, x, gamma):
    stat_dtype = rstd.dtype
    dx, dy_xhat, dyf = _maths.masked_backward(
        tf.cast(tf.reshape(dy, layout.grouped_shape), stat_dtype),
        tf.cast(tf.reshape(x, layout.grouped_shape), stat_dtype),
        tf.reshape(gamma, layout.param_shape), w, mean, rstd, total, keep,
        layout, _FN)
    dx = tf.reshape(tf.cast(dx, x.dtype), layout.shape)
    dgamma = tf.reshape(tf.reduce_sum(dy_xhat, layout.batch_axes), [-1])
    dbeta = tf.reshape(tf.reduce_sum(dyf, layout.batch_axes), [-1])

    def second_order(*upstream):
      return _second_order(dy, x, gamma, upstream, layout, epsilon, w)

    return (dx, dgamma, dbeta), second_order

  return backward(dy, x, gamma)


def _second_order(dy, x, gamma, upstream, layout, epsilon, weights=None):
  """Gradients of the first-order gradient (dx, dgamma, dbeta) for dy, x, gamma.

  The statistics came from x inside the forward pass, where no outer tape saw
  them: taken as constants they would make the second order silently wrong.
  So the first-order gradient is recomputed from x, statistics included,
  under a tape, and differentiated against `upstream` (ddx, ddgamma, ddbeta).
  """
  with tf.GradientTape() as tape:
    tape.watch([dy, x, gamma])
    first = _first_order_of_reference(dy, x, gamma, layout, epsilon, weights)
  return tape.gradient(first, [dy, x, gamma], output_gradients=list(upstream),
                       unconnected_gradients='zero')


def _first_order_of_reference(dy, x, gamma, layout, epsilon, weights=None):
  """(dx, dgamma, dbeta) by autodiff of plain group norm: differentiable again.

  The same maths as the op (statistics in gamma's float32 or float64, a
  two-pass variance, over the positions `weights` keeps if given), written
  so that every step, the statistics included, is on the tape; float16 or
  bfloat16 inputs and upstream gradients are cast up first and dx cast back
  last, as the closed form does.
  """
  stat_dtype = gamma.dtype
  xf = tf.cast(tf.reshape(x, layout.grouped_shape), stat_dtype)
  dyf = tf.cast(tf.reshape(dy, layout.grouped_shape), stat_dtype)
  beta = tf.zeros_like(gamma)
  with tf.GradientTape() as tape:
    tape.watch([xf, gamma, beta])
    if weights is None:
      n = tf.cast(layout.group_size, stat_dtype)
      mean = tf.reduce_sum(xf, layout.stat_axes, keepdims=True) / n
      var = tf.reduce_sum(tf.square(xf - mean), layout.stat_axes,
                          keepdims=True) / n
    else:
      mean, var, _, _ = _maths.masked_moments(xf, weights, layout, _FN)
    y = ((xf - mean) * tf.math.rsqrt(var + epsilon) *
         tf.reshape(gamma, layout.param_shape) +
         tf.reshape(beta, layout.param_shape))
  dx, dgamma, dbeta = tape.gradient(y, [xf, gamma, beta], output_gradients=dyf,
                                    unconnected_gradients='zero')
  return tf.reshape(tf.cast(dx, x.dtype), layout.shape), dgamma, dbeta


def _backward(dy, x, gamma, mean_hi, mean_lo, rstd, axis, groups, epsilon,
              backward_maths):
  """Closed-form gradient of group norm for x, gamma and beta.

  `backward_maths` is `_backward_maths` (compiled or not); this wraps it in
  the custom gradient that makes second-order gradients exact.
  """

  @tf.custom_gradient
  def backward(dy, x, gamma, mean_hi, mean_lo, rstd):
    first = backward_maths(dy, x, gamma, mean_hi, mean_lo, rstd)

    def second_order(*upstream):
      # The saved statistics get no gradient of their own: _second_order
      # recomputes them from x.
      layout = _Layout(x, axis, groups)
      return (*_second_order(dy, x, gamma, upstream, layout, epsilon),
              tf.zeros_like(mean_hi), tf.zeros_like(mean_lo),
              tf.zeros_like(rstd))

    return first, second_order

  dx, dgamma, dbeta = backward(dy, x, gamma, mean_hi, mean_lo, rstd)
  return dx, dgamma, dbeta


def _backward_maths(dy, x, gamma, mean_hi, mean_lo, rstd, axis, groups,
                    epsilon):
  """(dx, dgamma, dbeta) in closed form (`_maths.backward`)."""
  del epsilon  # rstd has it.
  layout = _Layout(x, axis, groups)
  stat_dtype = rstd.dtype
  dx, dgamma, dbeta = _maths.backward(
      tf.cast(tf.reshape(dy, layout.grouped_shape), stat_dtype),
      tf.cast(tf.reshape(x, layout.grouped_shape), stat_dtype),
      tf.reshape(gamma, layout.param_shape), mean_hi, mean_lo, rstd,
      tf.cast(layout.group_size, stat_dtype), layout)
  dx = tf.reshape(tf.cast(dx, x.dtype), layout.shape)
  dgamma = tf.reshape(tf.reduce_sum(dgamma, layout.batch_axes), [-1])
  dbeta = tf.reshape(tf.reduce_sum(dbeta, layout.batch_axes), [-1])
  return dx, dgamma, dbeta
