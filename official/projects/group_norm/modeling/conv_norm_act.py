"""conv -> norm -> activation: the one unit every backbone, FPN and head builds.

What it owns, so that no part writes it again: the bias rule (a convolution
has a bias only when no norm follows it: the norm's beta makes a bias
redundant), weight standardization (a WS convolution never has a bias, so it
needs a norm after it), zero-initialized gamma for a residual block's last
norm, and the names of the unit's layers. The names are given by each part,
because checkpoints already hold them (e.g. `l2_b0_conv1`/`l2_b0_norm1` in
the ResNets, `lateral_3_conv`/`lateral_3_norm` in the FPN,
`mask-conv_0`/`mask-conv-norm_0` in the heads).

  unit = conv_norm_act(spec, 64, 3, conv_name='c', norm_name='n',
                       activation='relu', act_name='a')
  y = unit(x)   # functional models call it on a tensor; heads keep the unit
"""

from typing import Any, Callable, NamedTuple, Optional, Union

import tf_keras

from official.projects.group_norm.modeling import norms
from official.projects.group_norm.modeling import ws_conv

layers = tf_keras.layers


class ConvNormAct(NamedTuple):
  """The layers of one unit; the norm and the activation may be absent.

  Keras tracks a named tuple held by a layer by its field names; a part whose
  checkpoints know (conv, norm) pairs keeps `tuple(unit)[:2]` instead.
  """
  conv: layers.Layer
  norm: Optional[layers.Layer] = None
  act: Optional[Callable[[Any], Any]] = None

  def __call__(self, x):
    """The unit on `x`: conv, then norm and activation where present."""
    x = self.conv(x)
    if self.norm is not None:
      x = self.norm(x)
    if self.act is not None:
      x = self.act(x)
    return x


def conv(norm: norms.NormSpec,
         filters: int,
         kernel_size,
         name: str,
         strides=1,
         conv_class=layers.Conv2D,
         weight_standardization: bool = False,
         **conv_kwargs) -> layers.Layer:
  """The convolution of a unit whose norm is `norm` (the bias rule).

  Args:
    norm: The part's norm spec: the convolution has a bias only without a
      norm.
    filters: Output channels.
    kernel_size: As the convolution class takes it.
    name: The layer's name.
    strides: As the convolution class takes them.
    conv_class: `Conv2D` or `Conv3D` (or another Keras convolution).
    weight_standardization: A `ws_conv.WSConv2D` instead (no bias; 2-D).
    **conv_kwargs: Further arguments (initializer, regularizer).

  Returns:
    The convolution layer, padding 'same'.

  Raises:
    ValueError: for weight standardization without a norm after it.
  """
  if weight_standardization:
    if not norm.normalizes:
      raise ValueError(f'{name}: a weight-standardized convolution has no '
                       'bias, so it needs a norm after it; the norm is None.')
    return ws_conv.WSConv2D(filters, kernel_size, strides=strides,
                            padding='same', name=name, **conv_kwargs)
  return conv_class(filters, kernel_size, strides=strides, padding='same',
                    use_bias=not norm.normalizes, name=name, **conv_kwargs)


def conv_norm_act(norm: norms.NormSpec,
                  filters: int,
                  kernel_size,
                  conv_name: str,
                  norm_name: Optional[str] = None,
                  strides=1,
                  activation: Union[str, Callable, None] = None,
                  act_name: Optional[str] = None,
                  zero_gamma: bool = False,
                  norm_regularizer=None,
                  conv_class=layers.Conv2D,
                  weight_standardization: bool = False,
                  **conv_kwargs) -> ConvNormAct:
  """Conv -> norm (if `norm` normalizes) -> activation (if any), as a unit.

  Args:
    norm: The part's norm spec (`norms.NormSpec`).
    filters: Output channels of the convolution.
    kernel_size: As the convolution class takes it.
    conv_name: The convolution's name.
    norm_name: The norm layer's name; required when `norm` normalizes.
    strides: As the convolution class takes them.
    activation: An activation name or function, or None.
    act_name: With it, the activation is an `Activation` layer of that name
      (a node of a functional model); without, a plain function.
    zero_gamma: The norm's gamma starts at 0 (a residual block's last norm,
      so that the block starts as the identity).
    norm_regularizer: Of gamma and beta; None: no decay on the norm.
    conv_class: `Conv2D` or `Conv3D`.
    weight_standardization: A weight-standardized convolution (2-D).
    **conv_kwargs: Further convolution arguments (initializer, regularizer).

  Returns:
    A `ConvNormAct`, callable on a tensor.
  """
  if norm.normalizes and norm_name is None:
    raise ValueError(f'{conv_name}: the norm layer needs a name.')
  act = None
  if activation is not None:
    act = (layers.Activation(activation, name=act_name) if act_name else
           tf_keras.activations.get(activation))
  return ConvNormAct(
      conv=conv(norm, filters, kernel_size, conv_name, strides=strides,
                conv_class=conv_class,
                weight_standardization=weight_standardization,
                **conv_kwargs),
      norm=norm.layer(norm_name, zero_gamma=zero_gamma,
                      regularizer=norm_regularizer),
      act=act)


def residual_units(norm: norms.NormSpec, activation, norm_regularizer=None,
                   conv_class=layers.Conv2D,
                   weight_standardization: bool = False, **conv_kwargs):
  """A ResNet's unit applier: every unit of a backbone, settings fixed once.

  Returns `unit(x, filters, kernel_size, strides, conv_name, norm_name,
  act_name=None, zero_gamma=False)`, which applies `conv_norm_act` to x, the
  activation only where `act_name` is given (a block's last unit adds the
  shortcut first).
  """

  def unit(x, filters, kernel_size, strides, conv_name, norm_name,
           act_name=None, zero_gamma=False):
    return conv_norm_act(
        norm, filters, kernel_size, conv_name=conv_name, norm_name=norm_name,
        strides=strides, activation=activation if act_name else None,
        act_name=act_name, zero_gamma=zero_gamma,
        norm_regularizer=norm_regularizer, conv_class=conv_class,
        weight_standardization=weight_standardization, **conv_kwargs)(x)

  return unit
