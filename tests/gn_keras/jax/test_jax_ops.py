"""The JAX kernel against float64 references: the TensorFlow op's spec."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gn_keras import jax_ops
from tests.gn_keras import reference as reference_module
from tests.gn_keras.reference import BAD_OP_ARGUMENTS
from tests.gn_keras.reference import reference

RNG = np.random.default_rng(0)


def _random(shape, loc=0.0, scale=1.0):
  return RNG.normal(loc, scale, size=shape).astype(np.float32)


# Plain group norm in jax.numpy, for autodiff.
_reference_jax = functools.partial(reference_module.autodiff_reference,
                                   moveaxis=jnp.moveaxis)


@pytest.mark.parametrize('shape,axis', [
    ((3, 8), -1), ((3, 5, 8), -1), ((3, 8, 5), 1), ((3, 4, 4, 8), -1),
    ((3, 8, 4, 4), 1), ((3, 2, 3, 4, 8), -1), ((3, 8, 2, 3, 4), 1)])
def test_matches_the_float64_reference_at_ranks_2_to_5(shape, axis):
  x = _random(shape, loc=1.0, scale=2.0)
  gamma, beta = _random([8]), _random([8])
  y = jax_ops.group_norm(x, 4, gamma, beta, axis=axis)
  assert y.dtype == jnp.float32 and y.shape == shape
  np.testing.assert_allclose(y, reference(x, 4, gamma, beta, axis=axis),
                             atol=2e-5)
  np.testing.assert_allclose(
      jax_ops.group_norm(x, None, gamma, beta, axis=axis, group_size=2),
      y, atol=1e-6)


def test_large_offset_normalizes_in_float32():
  x = (1e4 + 1e-2 * RNG.normal(size=(2, 6, 6, 8))).astype(np.float32)
  np.testing.assert_allclose(jax_ops.group_norm(x, 2),
                             reference(x.astype(np.float64), 2), atol=1e-3)


@pytest.mark.parametrize('dtype,loc,atol', [('bfloat16', 300.0, 0.05),
                                            ('float16', 300.0, 5e-3)])
def test_low_precision_inputs_get_float32_statistics(dtype, loc, atol):
  x = jnp.asarray(_random((2, 6, 6, 8), loc=loc, scale=2.0), dtype)
  y = jax_ops.group_norm(x, 2)
  assert y.dtype == x.dtype
  # float16 statistics would lose the spread at this offset.
  np.testing.assert_allclose(np.asarray(y, np.float64),
                             reference(np.asarray(x, np.float64), 2),
                             atol=atol)
  near_max = jnp.asarray(_random((2, 4, 4, 8), loc=6e4, scale=1e3),
                         'float16')
  assert np.all(np.isfinite(np.asarray(jax_ops.group_norm(near_max, 2))))


def test_closed_form_gradient_equals_autodiff_of_the_reference(x64):
  del x64
  x = RNG.normal(1.0, 2.0, (2, 4, 4, 8))
  gamma, beta = RNG.normal(size=8), RNG.normal(size=8)

  def loss(norm):
    return lambda t, g, b: jnp.sum(jnp.sin(norm(t, 4, g, b)))

  got = jax.grad(loss(jax_ops.group_norm), (0, 1, 2))(x, gamma, beta)
  expected = jax.grad(loss(_reference_jax), (0, 1, 2))(x, gamma, beta)
  for g, e, name in zip(got, expected, ('x', 'gamma', 'beta')):
    np.testing.assert_allclose(g, e, atol=1e-10, err_msg=name)


def test_float32_gradient_is_close_to_float64():
  x = _random((2, 8, 5, 5), loc=3.0, scale=2.0)
  gamma = _random([8])
  grad = jax.grad(lambda t, g: jnp.sum(jnp.sin(jax_ops.group_norm(
      t, 4, g, axis=1))), (0, 1))
  with jax.enable_x64(True):
    expected = jax.grad(lambda t, g: jnp.sum(jnp.sin(_reference_jax(
        t, 4, g, jnp.zeros(8), axis=1))), (0, 1))(
            x.astype(np.float64), gamma.astype(np.float64))
  for g, e in zip(grad(x, gamma), expected):
    assert g.dtype == jnp.float32
    np.testing.assert_allclose(g, e, atol=2e-5)


@pytest.mark.parametrize('compile_', [False, True], ids=['eager', 'jit'])
def test_reverse_over_reverse_equals_the_reference(x64, compile_):
  del x64
  x = RNG.normal(size=(2, 4, 4, 8))
  gamma, beta = RNG.normal(size=8), RNG.normal(size=8)

  def penalty_gradient(norm):
    def penalty(t):
      inner = jax.grad(lambda u: jnp.sum(jnp.sin(norm(u, 4, gamma, beta))))
      return jnp.sum(jnp.square(inner(t)))
    return jax.grad(penalty)

  run = penalty_gradient(jax_ops.group_norm)
  if compile_:
    run = jax.jit(run)
  np.testing.assert_allclose(run(x), penalty_gradient(_reference_jax)(x),
                             atol=1e-10)


def test_hessian_works_and_plain_forward_mode_raises(x64):
  del x64
  x = RNG.normal(size=(1, 2, 2, 8))
  gamma, beta = RNG.normal(size=8), RNG.normal(size=8)

  def loss(norm):
    return lambda t: jnp.sum(jnp.sin(norm(t, 4, gamma, beta)))

  # Forward over reverse differentiates the closed form's own rules.
  np.testing.assert_allclose(jax.hessian(loss(jax_ops.group_norm))(x),
                             jax.hessian(loss(_reference_jax))(x), atol=1e-10)
  with pytest.raises(TypeError, match='forward-mode autodiff'):
    jax.jvp(loss(jax_ops.group_norm), (x,), (x,))


def test_vmap_over_samples_equals_the_batched_call():
  x = _random((3, 4, 4, 8))
  gamma, beta = _random([8]), _random([8])
  per_sample = jax.vmap(
      lambda t: jax_ops.group_norm(t[None], 4, gamma, beta)[0])(x)
  np.testing.assert_allclose(per_sample,
                             jax_ops.group_norm(x, 4, gamma, beta), atol=1e-6)
  grads = jax.vmap(jax.grad(lambda t: jnp.sum(jnp.sin(
      jax_ops.group_norm(t[None], 4, gamma, beta)))))(x)
  np.testing.assert_allclose(grads, jax.grad(lambda t: jnp.sum(jnp.sin(
      jax_ops.group_norm(t, 4, gamma, beta))))(x), atol=1e-5)


def test_activation_is_applied():
  x = _random((2, 4, 4, 8))
  np.testing.assert_allclose(
      jax_ops.group_norm(x, 2, activation=jax.nn.relu),
      np.maximum(reference(x, 2), 0), atol=2e-5)


@reference_module.mask_cases
def test_mask_matches_a_weighted_reference(shape, axis, channelless, kind):
  reference_module.check_masked_op(jax_ops.group_norm, shape, axis,
                                   channelless, kind, jnp.asarray)


def _masked_reference_jax(x, groups, weights, gamma, beta):
  """Weighted statistics in jax.numpy (channels last), for autodiff."""
  grouped = x.reshape(x.shape[0], -1, groups, x.shape[-1] // groups)
  w = jnp.broadcast_to(weights, x.shape).reshape(grouped.shape)
  total = w.sum(axis=(1, 3), keepdims=True)
  mean = (w * grouped).sum(axis=(1, 3), keepdims=True) / total
  var = (w * jnp.square(grouped - mean)).sum(axis=(1, 3), keepdims=True) / total
  y = ((grouped - mean) / jnp.sqrt(var + 1e-5)).reshape(x.shape)
  return y * gamma + beta


def test_masked_gradients_equal_autodiff_and_second_order(x64):
  del x64
  x = RNG.normal(1.0, 2.0, (2, 5, 8))
  mask = np.ones((2, 5), bool)
  mask[1, 3:] = False
  weights = mask[..., None].astype(np.float64)
  gamma, beta = RNG.normal(size=8), RNG.normal(size=8)

  def loss(t, g, b, norm):
    return jnp.sum(jnp.sin(norm(t, g, b)) * weights)

  ours = lambda t, g, b: jax_ops.group_norm(t, 2, g, b, mask=mask)  # noqa: E731
  ref = lambda t, g, b: _masked_reference_jax(t, 2, weights, g, b)  # noqa: E731
  for g, e in zip(jax.grad(loss, (0, 1, 2))(x, gamma, beta, ours),
                  jax.grad(loss, (0, 1, 2))(x, gamma, beta, ref)):
    np.testing.assert_allclose(g, e, atol=1e-10)

  def penalty(norm):
    return jax.grad(lambda t: jnp.sum(jnp.square(
        jax.grad(loss)(t, gamma, beta, norm))))

  np.testing.assert_allclose(penalty(ours)(x), penalty(ref)(x), atol=1e-10)


def test_nan_at_masked_positions_reaches_no_output_or_gradient():
  x = _random((2, 5, 8), loc=2.0)
  x[1, 3:] = np.nan
  mask = np.ones((2, 5), bool)
  mask[1, 3:] = False
  y = jax_ops.group_norm(x, 2, mask=mask)
  assert np.all(np.isfinite(np.asarray(y)[mask]))
  grads = jax.grad(lambda t, g: jnp.sum(jnp.where(
      mask[..., None], jax_ops.group_norm(t, 2, g, mask=mask), 0.0)),
                   (0, 1))(x, np.ones(8, np.float32))
  assert all(np.all(np.isfinite(np.asarray(g)[mask] if g.ndim == 3 else g))
             for g in grads)
  empty = jax_ops.group_norm(x, 2, mask=np.zeros((2, 5), bool))
  assert np.all(np.isfinite(np.asarray(empty)[0]))


@pytest.mark.parametrize('kwargs,message', BAD_OP_ARGUMENTS)
def test_bad_arguments_raise_the_tensorflow_ops_errors(kwargs, message):
  with pytest.raises(ValueError, match=message):
    jax_ops.group_norm(_random((2, 5, 8)), **kwargs)
