"""The PyTorch kernel against float64 references: the TensorFlow op's spec."""

import functools

import numpy as np
import pytest
import torch

from gn_keras import torch_ops
from tests.gn_keras import reference as reference_module
from tests.gn_keras.reference import BAD_OP_ARGUMENTS
from tests.gn_keras.reference import reference

RNG = np.random.default_rng(0)


def _random(shape, loc=0.0, scale=1.0, dtype=torch.float32):
  return torch.tensor(RNG.normal(loc, scale, size=shape), dtype=dtype)


# Plain group norm in torch, for autograd.
_reference_torch = functools.partial(reference_module.autodiff_reference,
                                     moveaxis=torch.movedim)


@pytest.mark.parametrize('loc,scale', [(1.0, 2.0), (1e4, 1e-2)])
@pytest.mark.parametrize('shape,axis', [
    ((3, 8), -1), ((3, 5, 8), -1), ((3, 8, 5), 1), ((3, 4, 4, 8), -1),
    ((3, 8, 4, 4), 1), ((3, 2, 3, 4, 8), -1), ((3, 8, 2, 3, 4), 1)])
def test_matches_the_float64_reference_at_ranks_2_to_5(shape, axis, loc,
                                                        scale):
  x = _random(shape, loc, scale)
  gamma, beta = _random([8]), _random([8])
  y = torch_ops.group_norm(x, 4, gamma, beta, axis=axis)
  assert y.dtype == torch.float32 and tuple(y.shape) == shape
  # At mean 1e4, float32 holds x itself to 1e-3 of its 1e-2 spread.
  atol = 2e-5 if loc == 1.0 else 2e-3
  expected = reference(x.double().numpy(), 4, gamma.numpy(), beta.numpy(),
                       axis=axis)
  np.testing.assert_allclose(y.numpy(), expected, atol=atol)
  np.testing.assert_allclose(
      torch_ops.group_norm(x, None, gamma, beta, axis=axis, group_size=2),
      y, atol=1e-6)


@pytest.mark.parametrize('dtype,loc,atol', [(torch.bfloat16, 300.0, 0.05),
                                            (torch.float16, 300.0, 5e-3)])
def test_low_precision_inputs_get_float32_statistics(dtype, loc, atol):
  x = _random((2, 6, 6, 8), loc, 2.0, dtype)
  y = torch_ops.group_norm(x, 2)
  assert y.dtype == dtype
  # float16 statistics would lose the spread at this offset.
  np.testing.assert_allclose(y.double().numpy(),
                             reference(x.double().numpy(), 2), atol=atol)
  near_max = _random((2, 4, 4, 8), 6e4, 1e3, torch.float16)
  assert torch.isfinite(torch_ops.group_norm(near_max, 2)).all()


def _inputs(shape, axis=-1):
  x = _random(shape, 1.0, 2.0, torch.float64).requires_grad_()
  gamma = _random([shape[axis]], dtype=torch.float64).requires_grad_()
  beta = _random([shape[axis]], dtype=torch.float64).requires_grad_()
  return x, gamma, beta


@pytest.mark.parametrize('shape,axis', [((2, 4, 3, 6), -1), ((2, 6, 5), 1)])
def test_gradcheck_and_gradgradcheck_pass_in_float64(shape, axis):
  inputs = _inputs(shape, axis)
  op = lambda x, g, b: torch_ops.group_norm(x, 3, g, b, axis=axis)  # noqa: E731
  assert torch.autograd.gradcheck(op, inputs)
  assert torch.autograd.gradgradcheck(op, inputs)


def test_closed_form_gradient_and_penalty_equal_the_reference():
  x, gamma, beta = _inputs((2, 4, 4, 8))

  def first_and_penalty(norm):
    loss = torch.sin(norm(x, 4, gamma, beta)).sum()
    grads = torch.autograd.grad(loss, (x, gamma, beta), create_graph=True)
    penalty = sum(torch.square(g).sum() for g in grads)
    return grads + torch.autograd.grad(penalty, (x, gamma, beta))

  for got, expected in zip(first_and_penalty(torch_ops.group_norm),
                           first_and_penalty(_reference_torch)):
    np.testing.assert_allclose(got.detach(), expected.detach(), atol=1e-10)


def test_float32_gradient_is_close_to_float64():
  x64, gamma64, _ = _inputs((2, 8, 5, 5), axis=1)
  x = x64.detach().float().requires_grad_()
  gamma = gamma64.detach().float().requires_grad_()
  got = torch.autograd.grad(torch.sin(torch_ops.group_norm(
      x, 4, gamma, axis=1)).sum(), (x, gamma))
  expected = torch.autograd.grad(torch.sin(_reference_torch(
      x64, 4, gamma64, torch.zeros(8, dtype=torch.float64), axis=1)).sum(),
                                 (x64, gamma64))
  for g, e in zip(got, expected):
    assert g.dtype == torch.float32
    np.testing.assert_allclose(g, e.detach(), atol=2e-5)


def test_activation_is_applied():
  x = _random((2, 4, 4, 8))
  np.testing.assert_allclose(
      torch_ops.group_norm(x, 2, activation=torch.relu),
      np.maximum(reference(x.numpy(), 2), 0), atol=2e-5)


@reference_module.mask_cases
def test_mask_matches_a_weighted_reference(shape, axis, channelless, kind):
  reference_module.check_masked_op(torch_ops.group_norm, shape, axis,
                                   channelless, kind, torch.as_tensor)


def test_masked_gradcheck_and_gradgradcheck_pass_in_float64():
  mask = torch.ones((2, 5), dtype=torch.bool)
  mask[1, 3:] = False
  op = lambda x, g, b: torch_ops.group_norm(x, 2, g, b, mask=mask)  # noqa: E731
  inputs = _inputs((2, 5, 8))
  assert torch.autograd.gradcheck(op, inputs)
  assert torch.autograd.gradgradcheck(op, inputs)


def test_nan_at_masked_positions_reaches_no_output_or_gradient():
  x = _random((2, 5, 8), 2.0)
  x[1, 3:] = float('nan')
  mask = torch.ones((2, 5), dtype=torch.bool)
  mask[1, 3:] = False
  x.requires_grad_()
  gamma = torch.ones(8, requires_grad=True)
  y = torch_ops.group_norm(x, 2, gamma, mask=mask)
  assert torch.isfinite(y[mask]).all()
  torch.where(mask[..., None], y, torch.zeros_like(y)).sum().backward()
  assert torch.isfinite(x.grad[mask]).all() and torch.isfinite(gamma.grad).all()
  empty = torch_ops.group_norm(x.detach(), 2,
                               mask=torch.zeros((2, 5), dtype=torch.bool))
  assert torch.isfinite(empty[0]).all()


@pytest.mark.parametrize('kwargs,message', BAD_OP_ARGUMENTS)
def test_bad_arguments_raise_the_tensorflow_ops_errors(kwargs, message):
  with pytest.raises(ValueError, match=message):
    torch_ops.group_norm(_random((2, 5, 8)), **kwargs)
