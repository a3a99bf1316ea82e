"""Weight-standardized convolution (Qiao et al., 2019), which BiT pairs with GN.

Each output channel's kernel is standardized over its (height, width, input
channels) before the convolution:

    kernel_hat[..., o] = (kernel[..., o] - mean_o) / sqrt(var_o + epsilon)

in float32 whatever the compute dtype, with gradients flowing through the
standardization (it is part of the layer's maths, not a constraint). The
weight is named `ws_kernel`, not `kernel`, so that a plain convolution's
checkpoint never restores into it silently: its kernels mean something else.
"""

from typing import Optional

import tensorflow as tf
import tf_keras


def standardize_kernel(kernel: tf.Tensor, epsilon: float) -> tf.Tensor:
  """Standardizes a `[..., in, out]` kernel per output channel, in float32."""
  kernel = tf.cast(kernel, tf.float32)
  axes = list(range(kernel.shape.rank - 1))
  mean = tf.reduce_mean(kernel, axes, keepdims=True)
  var = tf.reduce_mean(tf.square(kernel - mean), axes, keepdims=True)
  return (kernel - mean) * tf.math.rsqrt(var + epsilon)


@tf_keras.utils.register_keras_serializable(package='GroupNorm')
class WSConv2D(tf_keras.layers.Layer):
  """2-D convolution without bias whose kernel is weight-standardized.

  Args:
    filters: Output channels.
    kernel_size: An int: the kernel is square.
    strides: An int stride. Defaults to 1.
    padding: 'same' or 'valid'. Defaults to 'same'.
    epsilon: Added to each output channel's kernel variance. Defaults to
      1e-6 (timm's StdConv2d; kernels of He-initialized ResNets have
      variances of about 1e-4 to 1e-2, so it stays negligible).
    kernel_initializer: Initializer of `ws_kernel`.
    kernel_regularizer: Optional regularizer of `ws_kernel` (the raw kernel).
    **kwargs: Base layer arguments, e.g. `name`.
  """

  def __init__(self,
               filters: int,
               kernel_size: int,
               strides: int = 1,
               padding: str = 'same',
               epsilon: float = 1e-6,
               kernel_initializer='VarianceScaling',
               kernel_regularizer: Optional[
                   tf_keras.regularizers.Regularizer] = None,
               **kwargs):
    super().__init__(**kwargs)
    if padding not in ('same', 'valid'):
      raise ValueError("`padding` must be 'same' or 'valid'; received "
                       f'padding={padding!r}.')
    if not epsilon > 0:
      raise ValueError(
          f'`epsilon` must be positive; received epsilon={epsilon!r}.')
    self.filters = filters
    self.kernel_size = kernel_size
    self.strides = strides
    self.padding = padding
    self.epsilon = epsilon
    self.kernel_initializer = tf_keras.initializers.get(kernel_initializer)
    self.kernel_regularizer = tf_keras.regularizers.get(kernel_regularizer)

  def build(self, input_shape):
    """Creates `ws_kernel` for the inputs' channels."""
    channels = tf.TensorShape(input_shape)[-1]
    if channels is None:
      raise ValueError(f'Layer {self.name!r}: the channel dimension of the '
                       f'inputs must be known; received {input_shape}.')
    # Read in float32 under mixed precision: the statistics need it.
    self.ws_kernel = self.add_weight(
        name='ws_kernel',
        shape=(self.kernel_size, self.kernel_size, channels, self.filters),
        dtype='float32', initializer=self.kernel_initializer,
        regularizer=self.kernel_regularizer, trainable=True,
        experimental_autocast=False)
    super().build(input_shape)

  def call(self, inputs):
    """Convolves `inputs` with the standardized kernel, in their dtype."""
    kernel = standardize_kernel(self.ws_kernel, self.epsilon)
    return tf.nn.conv2d(inputs, tf.cast(kernel, inputs.dtype), self.strides,
                        self.padding.upper())

  def compute_output_shape(self, input_shape):
    """The convolution's output shape."""
    shape = tf.TensorShape(input_shape).as_list()
    spatial = []
    for size in shape[1:3]:
      if size is None:
        spatial.append(None)
      elif self.padding == 'same':
        spatial.append(-(-size // self.strides))
      else:
        spatial.append((size - self.kernel_size) // self.strides + 1)
    return tf.TensorShape([shape[0], *spatial, self.filters])

  def get_config(self):
    """The constructor's arguments."""
    return {**super().get_config(), 'filters': self.filters,
            'kernel_size': self.kernel_size, 'strides': self.strides,
            'padding': self.padding, 'epsilon': self.epsilon,
            'kernel_initializer': tf_keras.initializers.serialize(
                self.kernel_initializer),
            'kernel_regularizer': tf_keras.regularizers.serialize(
                self.kernel_regularizer)}
