"""Tests for gn_keras.ops.group_norm: the spec is a float64 NumPy reference."""

import functools
import os

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from gn_keras import ops
from gn_keras.ops import group_norm
from tests.gn_keras import reference as reference_module
from tests.gn_keras.reference import reference

RNG = np.random.default_rng(0)


def _random(shape, dtype=np.float32, loc=0.0, scale=1.0):
  return (RNG.normal(loc, scale, size=shape)).astype(dtype)


SHAPES = {
    2: (3, 12),
    3: (2, 7, 12),
    4: (2, 5, 6, 12),
    5: (2, 3, 4, 5, 12),
}


@pytest.mark.parametrize('rank', [2, 3, 4, 5])
@pytest.mark.parametrize('axis', [-1, 1])
@pytest.mark.parametrize('groups', [1, 3, 12])
def test_matches_float64_reference(rank, axis, groups):
  shape = list(SHAPES[rank])
  if axis == 1:  # Channels-first: move the 12 channels to axis 1.
    shape = [shape[0], shape[-1]] + shape[1:-1]
  x = _random(shape, loc=2.0, scale=3.0)
  gamma, beta = _random([12]), _random([12])
  y = group_norm(x, groups, gamma, beta, axis=axis)
  np.testing.assert_allclose(
      y, reference(x, groups, gamma, beta, axis=axis), atol=2e-5, rtol=1e-5)
  assert y.dtype == tf.float32 and y.shape == tuple(shape)


def test_float64_inputs_keep_float64():
  x = _random([2, 4, 4, 8], np.float64)
  y = group_norm(x, 2)
  assert y.dtype == tf.float64
  np.testing.assert_allclose(y, reference(x, 2), atol=1e-12)


def test_group_size_is_the_alternative_to_groups():
  x = _random([2, 4, 4, 12])
  np.testing.assert_allclose(
      group_norm(x, groups=None, group_size=4), group_norm(x, groups=3))


def test_groups_1_is_layer_norm_with_per_channel_affine():
  x = _random([2, 5, 5, 6], loc=1.0)
  gamma, beta = _random([6]), _random([6])
  mean = x.mean(axis=(1, 2, 3), keepdims=True)
  var = x.var(axis=(1, 2, 3), keepdims=True)
  layer_norm = (x - mean) / np.sqrt(var + 1e-5) * gamma + beta
  np.testing.assert_allclose(
      group_norm(x, 1, gamma, beta), layer_norm, atol=2e-5)


def test_groups_minus_1_is_instance_norm():
  x = _random([2, 5, 5, 6], loc=-1.0)
  mean = x.mean(axis=(1, 2), keepdims=True)
  var = x.var(axis=(1, 2), keepdims=True)
  instance_norm = (x - mean) / np.sqrt(var + 1e-5)
  np.testing.assert_allclose(group_norm(x, -1), instance_norm, atol=2e-5)
  np.testing.assert_allclose(group_norm(x, -1), group_norm(x, 6))


def test_channels_first_equals_transposed_channels_last():
  x = _random([2, 6, 7, 16])
  gamma, beta = _random([16]), _random([16])
  nhwc = group_norm(x, 4, gamma, beta)
  nchw = group_norm(np.transpose(x, [0, 3, 1, 2]), 4, gamma, beta, axis=1)
  np.testing.assert_allclose(np.transpose(nchw, [0, 2, 3, 1]), nhwc,
                             atol=1e-5)


def test_variance_is_stable_for_large_mean_small_spread():
  # float32 E[x^2] - E[x]^2 loses every digit here: 100^2 vs 0.01^2.
  x = _random([2, 8, 8, 32], loc=100.0, scale=0.01)
  y = group_norm(x, 8)
  np.testing.assert_allclose(y, reference(x, 8), atol=5e-3)
  x = _random([2, 8, 8, 32], loc=1e4, scale=1e-2)
  np.testing.assert_allclose(group_norm(x, 8), reference(x, 8), atol=5e-2)


def test_float16_near_its_maximum_stays_finite():
  x = np.clip(_random([2, 4, 4, 8], np.float64, loc=6e4, scale=2e3),
              -65000, 65000).astype(np.float16)
  y = group_norm(x, 2)
  assert y.dtype == tf.float16
  assert np.all(np.isfinite(y.numpy()))
  np.testing.assert_allclose(y.numpy().astype(np.float64), reference(x, 2),
                             atol=1e-2)


@pytest.mark.parametrize('dtype,atol', [(tf.float16, 5e-3),
                                        (tf.bfloat16, 4e-2)])
def test_half_precision_inputs_get_float32_statistics(dtype, atol):
  x = _random([2, 6, 6, 16], loc=3.0)
  xh = tf.cast(x, dtype)
  y = group_norm(xh, 4, _random([16]) * 0 + 1.5, tf.fill([16], 0.25))
  assert y.dtype == dtype
  # Reference on the rounded input: the error is the output rounding only.
  expected = reference(tf.cast(xh, tf.float64).numpy(), 4) * 1.5 + 0.25
  np.testing.assert_allclose(tf.cast(y, tf.float64), expected, atol=atol * 2)


def test_activation_is_applied_to_the_normalized_output():
  x = _random([2, 4, 4, 8])
  np.testing.assert_allclose(
      group_norm(x, 2, activation=tf.nn.relu),
      np.maximum(reference(x, 2), 0), atol=2e-5)


def _autodiff_reference(x, gamma, beta, groups, axis):
  """Group norm from plain TF ops, differentiated by autodiff."""
  xm = tf.experimental.numpy.moveaxis(x, axis, -1)
  shape = tf.shape(xm)
  channels = xm.shape[-1]
  grouped = tf.reshape(xm, [shape[0], -1, groups, channels // groups])
  mean, var = tf.nn.moments(grouped, axes=[1, 3], keepdims=True)
  y = tf.reshape((grouped - mean) * tf.math.rsqrt(var + 1e-5), shape)
  return tf.experimental.numpy.moveaxis(y * gamma + beta, -1, axis)


@pytest.mark.parametrize('shape,axis', [((2, 12), -1), ((2, 3, 4, 12), -1),
                                        ((2, 12, 3, 4), 1),
                                        ((2, 2, 3, 2, 12), -1)])
def test_closed_form_gradient_equals_autodiff_float64(shape, axis):
  channels = shape[axis]
  x = tf.constant(_random(shape, np.float64, loc=1.0, scale=2.0))
  gamma = tf.constant(_random([channels], np.float64))
  beta = tf.constant(_random([channels], np.float64))
  dy = tf.constant(_random(shape, np.float64))
  grads = []
  for fn in (lambda *a: group_norm(a[0], 3, a[1], a[2], axis=axis),
             lambda *a: _autodiff_reference(*a, 3, axis)):
    with tf.GradientTape() as tape:
      tape.watch([x, gamma, beta])
      y = fn(x, gamma, beta)
    grads.append(tape.gradient(y, [x, gamma, beta], output_gradients=dy))
  for ours, autodiff in zip(*grads):
    np.testing.assert_allclose(ours, autodiff, atol=1e-10, rtol=1e-9)


def test_gradient_matches_numerical_jacobian():
  x = _random([2, 3, 3, 4], np.float64)
  gamma = _random([4], np.float64)
  beta = _random([4], np.float64)
  theoretical, numerical = tf.test.compute_gradient(
      lambda a, g, b: group_norm(a, 2, g, b), [x, gamma, beta])
  for t, n in zip(theoretical, numerical):
    np.testing.assert_allclose(t, n, atol=1e-6)


def test_gradient_is_float32_accurate_for_large_mean():
  shape = (2, 6, 6, 8)
  x64 = _random(shape, np.float64, loc=100.0, scale=0.5)
  dy = _random(shape)
  with tf.GradientTape() as tape:
    x = tf.constant(x64.astype(np.float32))
    tape.watch(x)
    y = group_norm(x, 2)
  dx = tape.gradient(y, x, output_gradients=dy)
  x_ref = tf.constant(x64.astype(np.float32).astype(np.float64))
  with tf.GradientTape() as tape:
    tape.watch(x_ref)
    y_ref = _autodiff_reference(x_ref, 1.0, 0.0, 2, -1)
  dx_ref = tape.gradient(y_ref, x_ref, output_gradients=dy.astype(np.float64))
  np.testing.assert_allclose(dx, dx_ref, atol=2e-3)


def _penalty_and_its_gradients(norm, x, kernel, gamma, beta, v,
                               stop_statistics=False):
  """A gradient penalty ||d loss/dx||^2 and a Hessian-vector product.

  loss = sum(sin(norm(conv(x)))) with the norm's affine; returns the penalty's
  gradients with respect to x, the conv kernel, gamma and beta, and H_x v.
  """
  with tf.GradientTape(persistent=True) as outer:
    outer.watch([x, kernel, gamma, beta])
    with tf.GradientTape() as inner:
      inner.watch([x, kernel, gamma, beta])
      features = tf.nn.conv2d(x, kernel, 1, 'SAME')
      loss = tf.reduce_sum(tf.sin(norm(features, gamma, beta,
                                       stop_statistics)))
    dx = inner.gradient(loss, x)
    penalty = tf.reduce_sum(tf.square(dx))
    directional = tf.reduce_sum(dx * v)
  penalty_grads = outer.gradient(penalty, [x, kernel, gamma, beta])
  hvp = outer.gradient(directional, x)
  return penalty_grads + [hvp]


def _ours(features, gamma, beta, unused_stop_statistics):
  return group_norm(features, 4, gamma, beta)


def _reference64(features, gamma, beta, stop_statistics):
  """Float64 autodiff reference; stop_statistics: mean, var as constants."""
  shape = tf.shape(features)
  grouped = tf.reshape(features, [shape[0], -1, 4, features.shape[-1] // 4])
  # Not tf.nn.moments: it stops the mean's gradient inside the variance,
  # which is harmless at first order and wrong at second.
  mean = tf.reduce_mean(grouped, axis=[1, 3], keepdims=True)
  var = tf.reduce_mean(tf.square(grouped - mean), axis=[1, 3], keepdims=True)
  if stop_statistics:
    mean, var = tf.stop_gradient(mean), tf.stop_gradient(var)
  y = tf.reshape((grouped - mean) * tf.math.rsqrt(var + 1e-5), shape)
  return y * gamma + beta


def _second_order_inputs(dtype):
  return [tf.constant(_random(shape, np.float64, loc=loc, scale=scale)
                      .astype(dtype))
          for shape, loc, scale in (([2, 5, 5, 3], 0.5, 1.0),
                                    ([3, 3, 3, 8], 0.0, 0.3),
                                    ([8], 1.0, 0.2), ([8], 0.0, 0.2),
                                    ([2, 5, 5, 3], 0.0, 1.0))]


@pytest.mark.parametrize('mode', ['eager', 'graph', 'xla'])
def test_second_order_gradients_equal_float64_autodiff(mode):
  inputs64 = _second_order_inputs(np.float64)
  inputs32 = [tf.cast(t, tf.float32) for t in inputs64]
  expected = _penalty_and_its_gradients(_reference64, *inputs64)
  run = functools.partial(_penalty_and_its_gradients, _ours)
  if mode != 'eager':
    run = tf.function(run, jit_compile=mode == 'xla')
  got = run(*inputs32)
  names = ('d penalty/dx', 'd penalty/dkernel', 'd penalty/dgamma',
           'd penalty/dbeta', 'H_x v')
  for name, g, e in zip(names, got, expected):
    scale = float(tf.reduce_max(tf.abs(e)))
    # float32 against float64 (measured: at most 5e-7), relative to each
    # result's largest entry.
    np.testing.assert_allclose(g, e, atol=1e-5 * scale, err_msg=name)
  # Taking the statistics as constants (what the saved mean/rstd of the
  # forward pass would give) is far outside that tolerance: the test would
  # catch it.
  constants = _penalty_and_its_gradients(_reference64, *inputs64,
                                         stop_statistics=True)
  for name, c, e in zip(names, constants, expected):
    if name != 'd penalty/dbeta':  # Beta's is zero either way.
      scale = float(tf.reduce_max(tf.abs(e)))
      assert float(tf.reduce_max(tf.abs(c - e))) > 100 * 1e-5 * scale, name


def test_second_order_of_float16_inputs_uses_float32_statistics():
  x = tf.constant(_random([2, 4, 4, 8], loc=1.0).astype(np.float16))
  gamma = tf.constant(_random([8], loc=1.0))
  with tf.GradientTape() as outer:
    outer.watch([x, gamma])
    with tf.GradientTape() as inner:
      inner.watch(x)
      loss = tf.reduce_sum(tf.sin(tf.cast(group_norm(x, 2, gamma),
                                          tf.float32)))
    dx = inner.gradient(loss, x)
    penalty = tf.reduce_sum(tf.square(tf.cast(dx, tf.float32)))
  ddx, dgamma = outer.gradient(penalty, [x, gamma])
  assert ddx.dtype == tf.float16 and dgamma.dtype == tf.float32
  # Float32 statistics: the float16 input's second order is the float32
  # input's, to float16's precision.
  with tf.GradientTape() as outer:
    x32 = tf.cast(x, tf.float32)
    outer.watch([x32, gamma])
    with tf.GradientTape() as inner:
      inner.watch(x32)
      loss = tf.reduce_sum(tf.sin(group_norm(x32, 2, gamma)))
    penalty = tf.reduce_sum(tf.square(inner.gradient(loss, x32)))
  ddx32, dgamma32 = outer.gradient(penalty, [x32, gamma])
  np.testing.assert_allclose(tf.cast(ddx, tf.float32), ddx32, rtol=1e-2,
                             atol=1e-2 * float(tf.reduce_max(tf.abs(ddx32))))
  np.testing.assert_allclose(dgamma, dgamma32, rtol=1e-2)


def _forward_backward(x, gamma, beta, groups=4, axis=-1):
  with tf.GradientTape() as tape:
    tape.watch([x, gamma, beta])
    y = group_norm(x, groups, gamma, beta, axis=axis, activation=tf.nn.silu)
    loss = tf.reduce_sum(y * tf.sin(y))
  return (y,) + tuple(tape.gradient(loss, [x, gamma, beta]))


@pytest.mark.parametrize('axis', [-1, 1])
def test_xla_matches_graph_forward_and_backward(axis):
  shape = [2, 8, 8, 16] if axis == -1 else [2, 16, 8, 8]
  x = tf.constant(_random(shape, loc=0.5))
  gamma, beta = tf.constant(_random([16])), tf.constant(_random([16]))
  graph = tf.function(_forward_backward)(x, gamma, beta, axis=axis)
  xla = tf.function(_forward_backward, jit_compile=True)(x, gamma, beta,
                                                         axis=axis)
  for a, b in zip(graph, xla):
    np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-4)


def test_no_transpose_in_forward_or_backward_graph():
  param = tf.TensorSpec([16], tf.float32)
  for axis, shape in ((-1, [2, 8, 8, 16]), (1, [2, 16, 8, 8])):
    spec = tf.TensorSpec(shape, tf.float32)
    graph = tf.function(_forward_backward).get_concrete_function(
        spec, param, param, axis=axis).graph
    op_types = {op.type for op in graph.get_operations()}
    for function in graph.as_graph_def().library.function:
      op_types |= {node.op for node in function.node_def}
    assert not op_types & {'Transpose', 'ConjugateTranspose'}, op_types


def test_unknown_batch_and_spatial_dims_and_static_shapes():
  fn = tf.function(lambda x: group_norm(x, 4), input_signature=[
      tf.TensorSpec([None, None, None, 16], tf.float32)])
  forward = ops._compiled(  # noqa: SLF001
      ops._forward_maths, 3, 4, 1e-5, (None, None, 16))  # noqa: SLF001
  traces = forward.experimental_get_tracing_count()
  for shape in ([3, 5, 7, 16], [2, 4, 9, 16]):
    x = _random(shape)
    np.testing.assert_allclose(fn(x), reference(x, 4), atol=2e-5)
  # One trace of the compiled maths for both shapes (XLA compiles each).
  assert forward.experimental_get_tracing_count() - traces == 1
  static = group_norm(tf.zeros([2, 3, 4, 16]), 4)
  assert static.shape == (2, 3, 4, 16)

  @tf.function
  def static_shape_of_symbolic(x):
    y = group_norm(x, 4)
    assert y.shape.as_list() == [None, 5, 6, 16], y.shape
    return y
  static_shape_of_symbolic.get_concrete_function(
      tf.TensorSpec([None, 5, 6, 16], tf.float32))


def _xla_functions(graph_def):
  """Names of the library functions XLA must compile (jit_compile=True)."""
  return {f.signature.name for f in graph_def.library.function
          if f.attr['_XlaMustCompile'].b}


def test_graph_mode_compiles_the_maths_unless_switched_off(monkeypatch):
  spec = tf.TensorSpec([None, 6, 6, 16], tf.float32)
  param = tf.TensorSpec([16], tf.float32)
  x = tf.constant(_random([3, 6, 6, 16], loc=2.0))
  gamma, beta = tf.constant(_random([16])), tf.constant(_random([16]))
  results = {}
  for switch in ('1', '0'):
    monkeypatch.setenv('GN_KERAS_JIT', switch)
    step = tf.function(_forward_backward)
    graph = step.get_concrete_function(spec, param, param).graph
    compiled = _xla_functions(graph.as_graph_def())
    # The forward and the backward maths, each compiled by itself.
    assert len(compiled) == (2 if switch == '1' else 0), compiled
    results[switch] = step(x, gamma, beta)
  for name, a, b in zip(('y', 'dx', 'dgamma', 'dbeta'), results['1'],
                        results['0']):
    np.testing.assert_allclose(a, b, atol=2e-5, rtol=1e-5, err_msg=name)


def test_compiled_maths_trace_once_per_configuration():
  forward = ops._compiled(  # noqa: SLF001
      ops._forward_maths, 3, 4, 1e-5, (5, 3, 8))  # noqa: SLF001
  before = forward.experimental_get_tracing_count()
  for batch in (1, 2, 3, 4, 5):
    x = _random([batch, 5, 3, 8], loc=1.0)
    np.testing.assert_allclose(group_norm(x, 4), reference(x, 4), atol=2e-5)
  # The second batch size generalizes the batch dimension; XLA compiles per
  # concrete shape underneath.
  assert forward.experimental_get_tracing_count() - before == 2


def test_runs_in_mirrored_strategy_replicas():
  strategy = tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])
  assert strategy.num_replicas_in_sync == 2
  x = _random([4, 4, 4, 8])
  dataset = tf.data.Dataset.from_tensor_slices(x).batch(4)
  dist = strategy.experimental_distribute_dataset(dataset)

  @tf.function
  def step(batch):
    return strategy.run(
        lambda b: _forward_backward(b, tf.ones([8]), tf.zeros([8]), 2),
        args=(batch,))
  outputs = step(next(iter(dist)))
  y = tf.concat(strategy.experimental_local_results(outputs[0]), 0)
  np.testing.assert_allclose(y, tf.function(_forward_backward)(
      tf.constant(x), tf.ones([8]), tf.zeros([8]), 2)[0], atol=1e-5)


@pytest.mark.parametrize('kwargs,message', [
    (dict(groups=5), r'channels \(12\) must be a multiple of `groups`; '
     r'received groups=5'),
    (dict(groups=24), r'`groups`=24 cannot be more than the number of '
     r'channels; received 12'),
    (dict(groups=4, group_size=3), r'exactly one of `groups` and '
     r'`group_size`; received groups=4 and group_size=3'),
    (dict(groups=None), r'one of `groups` and `group_size`; received '
     r'groups=None and group_size=None'),
    (dict(groups=None, group_size=5), r'`group_size`=5 must divide the number '
     r'of channels; received 12'),
    (dict(groups=None, group_size=0), r'`group_size` must be a positive '
     r'integer; received group_size=0'),
    (dict(groups=0), r'`groups` must be a positive integer or -1 .*received '
     r'groups=0'),
    (dict(axis=4), r'`axis` must be in \[-4, 4\) .*received axis=4'),
    (dict(axis=0), r'cannot be 0, the batch axis'),
])
def test_bad_arguments_raise_naming_the_value(kwargs, message):
  with pytest.raises(ValueError, match=message):
    group_norm(tf.zeros([2, 3, 3, 12]), **kwargs)


def test_rank_1_and_rank_6_are_rejected():
  with pytest.raises(ValueError, match='rank 2 to 5.*received rank 1'):
    group_norm(tf.zeros([12]), 3)
  with pytest.raises(ValueError, match='rank 2 to 5.*received rank 6'):
    group_norm(tf.zeros([1, 1, 1, 1, 1, 12]), 3)


def test_unknown_channel_dim_is_rejected():
  fn = tf.function(lambda x: group_norm(x, 2))
  with pytest.raises(ValueError, match=r'channel dimension \(axis 3\) must be '
                     r'known; received an input of shape \(2, 3, 3, None\)'):
    fn.get_concrete_function(tf.TensorSpec([2, 3, 3, None]))


def test_gamma_of_wrong_shape_is_rejected():
  with pytest.raises(ValueError, match=r'`gamma` must have shape \[12\].*'
                     r'received shape \(6,\)'):
    group_norm(tf.zeros([2, 3, 3, 12]), 3, gamma=tf.ones([6]))


def test_resolve_groups():
  assert ops.resolve_groups(64, 32) == 32
  assert ops.resolve_groups(64, -1) == 64
  assert ops.resolve_groups(64, None, 16) == 4


# Masks: statistics over the kept positions only.


@reference_module.mask_cases
def test_mask_matches_a_weighted_reference(shape, axis, channelless, kind):
  reference_module.check_masked_op(group_norm, shape, axis, channelless, kind)


def test_mask_equals_tf_keras_group_normalization():
  x = _random((2, 5, 5, 8), loc=1.0, scale=3.0)
  mask = (np.random.default_rng(3).random((2, 5, 5, 8)) > 0.3).astype(
      np.float32)
  theirs = tf_keras.layers.GroupNormalization(groups=4, epsilon=1e-5)
  np.testing.assert_allclose(group_norm(x, 4, mask=mask),
                             theirs(x, mask=tf.constant(mask)), atol=1e-4)


def test_padded_batch_gives_the_unpadded_sequences_outputs():
  lengths = [6, 3]
  x = _random((2, 6, 8), loc=2.0)
  x[1, 3:] = 1e4  # Padding that would dominate the statistics.
  mask = np.arange(6)[None, :] < np.array(lengths)[:, None]
  padded = group_norm(x, 2, mask=mask)
  for i, length in enumerate(lengths):
    alone = group_norm(x[i:i + 1, :length], 2)
    np.testing.assert_allclose(padded[i, :length], alone[0], atol=1e-5)


def test_non_finite_masked_values_change_no_output_or_gradient():
  x = _random((2, 6, 8), loc=2.0)
  mask = np.ones((2, 6), bool)
  mask[:, 4:] = False
  dy = _random((2, 6, 8)) * mask[..., None]  # The loss ignores the padding.
  gamma = tf.constant(_random([8], loc=1.0))

  def outputs_and_gradients(values):
    values = tf.constant(values)
    with tf.GradientTape() as tape:
      tape.watch([values, gamma])
      y = group_norm(values, 2, gamma, mask=mask)
      loss = tf.reduce_sum(y * dy)
    dx, dgamma = tape.gradient(loss, [values, gamma])
    return y[:, :4], dx[:, :4], dgamma

  clean = outputs_and_gradients(x)
  for bad in (np.nan, np.inf):
    dirty = x.copy()
    dirty[:, 4:] = bad
    for got, expected in zip(outputs_and_gradients(dirty), clean):
      np.testing.assert_array_equal(got, expected)


def test_all_masked_group_is_finite():
  x = _random((2, 5, 8))
  y = group_norm(x, 2, mask=np.zeros((2, 5), bool))
  assert np.all(np.isfinite(y))
  np.testing.assert_allclose(y, x / np.sqrt(1e-5), rtol=1e-5)  # Mean 0, var 0.


def _masked_autodiff(x, gamma, beta, weights, groups, axis):
  """Masked group norm from plain TF ops, differentiated by autodiff."""
  xm = tf.experimental.numpy.moveaxis(x, axis, -1)
  wm = tf.experimental.numpy.moveaxis(tf.broadcast_to(weights, x.shape),
                                      axis, -1)
  channels = xm.shape[-1]
  grouped = tf.reshape(xm, [xm.shape[0], -1, groups, channels // groups])
  wg = tf.reshape(wm, grouped.shape)
  total = tf.reduce_sum(wg, axis=[1, 3], keepdims=True)
  mean = tf.reduce_sum(wg * grouped, axis=[1, 3], keepdims=True) / total
  var = tf.reduce_sum(wg * tf.square(grouped - mean), axis=[1, 3],
                      keepdims=True) / total
  y = tf.reshape((grouped - mean) * tf.math.rsqrt(var + 1e-5), xm.shape)
  return tf.experimental.numpy.moveaxis(y * gamma + beta, -1, axis)


@pytest.mark.parametrize('shape,axis', [((2, 6, 8), -1), ((2, 8, 3, 3), 1)])
@pytest.mark.parametrize('mode', ['eager', 'xla'])
def test_masked_gradients_equal_float64_autodiff(shape, axis, mode):
  x = tf.constant(_random(shape, np.float64, loc=1.0, scale=2.0))
  gamma = tf.constant(_random([8], np.float64, loc=1.0))
  beta = tf.constant(_random([8], np.float64))
  weights = np.random.default_rng(5).integers(0, 3, shape).astype(np.float64)
  weights[0] = np.maximum(weights[0], 1)  # No group of weight 0 here.
  weights[1] = np.maximum(weights[1], 1)
  dy = tf.constant(_random(shape, np.float64))  # Masked outputs count too.

  def grads(fn):
    with tf.GradientTape() as tape:
      tape.watch([x, gamma, beta])
      y = fn(x, gamma, beta)
    return tape.gradient(y, [x, gamma, beta], output_gradients=dy)

  def ours(*args):
    return group_norm(args[0], 4, args[1], args[2], axis=axis,
                      mask=weights)

  run = grads if mode == 'eager' else tf.function(grads, jit_compile=True)
  got = run(ours)
  expected = grads(lambda *a: _masked_autodiff(*a, weights, 4, axis))
  for g, e in zip(got, expected):
    np.testing.assert_allclose(g, e, atol=1e-8, rtol=1e-8)


def test_masked_second_order_equals_float64_autodiff():
  x = tf.constant(_random((2, 6, 8), np.float64, loc=1.0))
  weights = (np.random.default_rng(9).random((2, 6)) > 0.3)[..., None]
  weights = weights.astype(np.float64)
  v = tf.constant(_random((2, 6, 8), np.float64))

  def hvp(fn):
    with tf.GradientTape() as outer:
      outer.watch(x)
      with tf.GradientTape() as inner:
        inner.watch(x)
        loss = tf.reduce_sum(tf.sin(fn(x)))
      directional = tf.reduce_sum(inner.gradient(loss, x) * v)
    return outer.gradient(directional, x)

  got = hvp(lambda t: group_norm(t, 4, mask=weights[..., 0] > 0))
  expected = hvp(lambda t: _masked_autodiff(
      t, tf.ones([8], tf.float64), tf.zeros([8], tf.float64), weights, 4,
      -1))
  np.testing.assert_allclose(got, expected, atol=1e-8)


def test_bad_mask_shape_raises():
  with pytest.raises(ValueError, match=r"`mask` must have the input's shape "
                     r'\(2, 5, 8\) or that shape without the channel axis 2; '
                     r'received shape \(2, 5, 3\)'):
    group_norm(_random((2, 5, 8)), 2, mask=np.ones((2, 5, 3), bool))
  with pytest.raises(ValueError, match=r'received shape \(2,\)'):
    group_norm(_random((2, 5, 8)), 2, mask=np.ones((2,), bool))


def _saved_graph_def(path):
  """A SavedModel's GraphDef, functions included."""
  from tensorflow.core.protobuf import saved_model_pb2  # noqa: PLC0415
  proto = saved_model_pb2.SavedModel()
  with open(os.path.join(path, 'saved_model.pb'), 'rb') as f:
    proto.ParseFromString(f.read())
  return proto.meta_graphs[0].graph_def


def _saved_ops(path):
  """The op types of every function in a SavedModel's graph."""
  return _graph_ops(_saved_graph_def(path))


def _graph_ops(graph):
  """The op types of a GraphDef's nodes and of its library's functions."""
  return ({node.op for node in graph.node} |
          {node.op for function in graph.library.function
           for node in function.node_def})


def test_saved_graphs_do_not_bake_in_the_cpu_only_matmul_sums(tmp_path):
  module = tf.Module()
  module.f = tf.function(lambda x: group_norm(x, 4),
                         input_signature=[tf.TensorSpec([None, 8, 8, 16])])
  x = _random((2, 8, 8, 16), loc=1.0)
  if ops._cpu_only():  # noqa: SLF001
    # Training on this host uses them (they are exact on a CPU)...
    traced = module.f.get_concrete_function().graph.as_graph_def()
    assert 'BatchMatMulV2' in _graph_ops(traced)
  # ... but a saved graph may run on a GPU, where float32 matmuls are TF32.
  path = str(tmp_path / 'saved')
  tf.saved_model.save(module, path)
  assert not {'BatchMatMulV2', 'BatchMatMul', 'MatMul'} & _saved_ops(path)
  # Nor the op's own XLA compilation: plain ops run (and convert) anywhere.
  assert not _xla_functions(_saved_graph_def(path))
  np.testing.assert_allclose(tf.saved_model.load(path).f(x),
                             reference(x, 4), atol=3e-5)


def test_functions_traced_for_export_keep_plain_sums():
  f = tf.function(lambda x: group_norm(x, 4))
  spec = tf.TensorSpec([None, 8, 8, 16])
  with ops.for_export():
    exported = f.get_concrete_function(spec).graph.as_graph_def()
  assert 'BatchMatMulV2' not in _graph_ops(exported)
