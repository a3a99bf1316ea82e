"""The Keras 3 layer on JAX: what the shared checks do with TensorFlow itself.

test_layer_checks.py's `tensorflow`-marked checks (mixed-precision
gradients, compiled calls, second order) in JAX's terms.
"""

import jax
import jax.numpy as jnp
import keras
import numpy as np

import gn_keras
from tests.gn_keras.reference import MIXED_POLICIES
from tests.gn_keras.reference import autodiff_reference
from tests.gn_keras.reference import global_policy
from tests.gn_keras.reference import random_affine_layer
from tests.gn_keras.reference import sample


@MIXED_POLICIES
def test_mixed_precision_gradients_are_float32(policy, compute):

  def loss(trainable, x):
    y, _ = layer.stateless_call(trainable, [], x)
    return jnp.sum(y.astype(jnp.float32))

  with global_policy(keras.mixed_precision.set_global_policy, policy):
    layer = gn_keras.GroupNormalization(groups=2)
    layer.build((4, 6, 6, 8))
    grads = jax.grad(loss)([w.value for w in layer.trainable_weights],
                           jnp.asarray(sample(), compute))
  assert all(g.dtype == jnp.float32 for g in grads)


def test_jit_of_a_stateless_call_equals_the_eager_call():
  layer = gn_keras.GroupNormalization(groups=4, activation='relu',
                                      gamma_initializer='random_uniform')
  x = sample()
  expected = layer(x)
  weights = [w.value for w in layer.trainable_weights]
  got, _ = jax.jit(lambda w, t: layer.stateless_call(w, [], t))(weights, x)
  np.testing.assert_allclose(got, expected, atol=1e-6)


def test_second_order_through_the_layer_matches_a_float64_reference():
  layer, x, gamma, beta = random_affine_layer(gn_keras.GroupNormalization)

  def penalty_gradient(norm):
    inner = jax.grad(lambda t: jnp.sum(jnp.sin(norm(t))))
    return jax.grad(lambda t: jnp.sum(jnp.square(inner(t))))

  with jax.enable_x64(True):
    expected = penalty_gradient(
        lambda t: autodiff_reference(t, 4, gamma, beta))(x.astype(np.float64))
  got = jax.jit(penalty_gradient(layer))(x)
  np.testing.assert_allclose(got, expected, atol=1e-5 * np.abs(expected).max())


def test_the_layer_runs_on_jax():
  assert keras.backend.backend() == 'jax'
  layer = gn_keras.GroupNormalization(groups=2)
  assert isinstance(layer(sample()), jax.Array)
