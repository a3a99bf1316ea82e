"""The Keras 3 layer on PyTorch: the `tensorflow`-marked checks, in torch."""

import keras
import numpy as np
import torch

import gn_keras
from tests.gn_keras.reference import MIXED_POLICIES
from tests.gn_keras.reference import autodiff_reference
from tests.gn_keras.reference import global_policy
from tests.gn_keras.reference import random_affine_layer
from tests.gn_keras.reference import reference
from tests.gn_keras.reference import sample


def _numpy(t):
  return keras.ops.convert_to_numpy(t)


@MIXED_POLICIES
def test_mixed_precision_gradients_are_float32(policy, compute):
  with global_policy(keras.mixed_precision.set_global_policy, policy):
    layer = gn_keras.GroupNormalization(groups=2)
    layer(torch.as_tensor(sample()).to(getattr(torch, compute))).float().sum(
        ).backward()
  assert all(w.value.grad.dtype == torch.float32
             for w in layer.trainable_weights)


def test_second_order_through_the_layer_matches_a_float64_reference():
  layer, x, *affine = random_affine_layer(gn_keras.GroupNormalization)
  gamma, beta = (torch.tensor(w) for w in affine)

  def penalty_gradient(norm, t):
    t = t.clone().requires_grad_()
    (inner,) = torch.autograd.grad(torch.sin(norm(t)).sum(), t,
                                   create_graph=True)
    (outer,) = torch.autograd.grad(torch.square(inner).sum(), t)
    return outer.double().numpy()

  expected = penalty_gradient(
      lambda t: autodiff_reference(t, 4, gamma, beta), torch.tensor(x).double())
  got = penalty_gradient(layer, torch.tensor(x))
  np.testing.assert_allclose(got, expected, atol=1e-5 * np.abs(expected).max())


def test_normalizes_where_keras_own_group_normalization_returns_nan():
  ours = gn_keras.GroupNormalization(groups=4, epsilon=1e-3)
  theirs = keras.layers.GroupNormalization(groups=4, epsilon=1e-3)
  # Mean 1e4, std 1e-2: Keras' single-pass float32 variance goes negative.
  x = 1e4 + sample((2, 6, 6, 16), 0.0) / 200  # float32.
  np.testing.assert_allclose(_numpy(ours(x)),
                             reference(x.astype(np.float64), 4, epsilon=1e-3),
                             atol=2e-3)
  assert np.isnan(_numpy(theirs(x))).any()


def _model():
  inputs = keras.Input((6, 6, 8))
  hidden = keras.layers.Conv2D(8, 3, padding='same')(inputs)
  outputs = gn_keras.GroupNormalization(groups=4, activation='relu')(hidden)
  return keras.Model(inputs, outputs)


def test_a_model_trains_with_fit():
  model = _model()
  model.compile(optimizer=keras.optimizers.SGD(0.1), loss='mse')
  x = sample()
  history = model.fit(x, np.zeros_like(x), epochs=3, verbose=0)
  assert history.history['loss'][-1] < history.history['loss'][0]


def test_torch_compile_of_a_model_equals_the_eager_call():
  model = _model()
  x = torch.as_tensor(sample())
  compiled = torch.compile(model)
  np.testing.assert_allclose(_numpy(compiled(x)), _numpy(model(x)), atol=1e-5)


def test_the_layer_runs_on_torch():
  assert keras.backend.backend() == 'torch'
  layer = gn_keras.GroupNormalization(groups=2)
  assert isinstance(layer(sample()), torch.Tensor)
