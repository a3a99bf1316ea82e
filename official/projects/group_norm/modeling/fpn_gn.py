"""FPN with a norm after every lateral and output convolution (GN by default).

Model Garden's FPN puts one BatchNormalization on each output level only.
The paper's Mask R-CNN (and Detectron's FPN with GN) normalizes inside the
pyramid: lateral 1x1 conv -> norm, top-down sum, output 3x3 conv -> norm,
convolutions without bias. With `norm=None` it is the plain FPN of Lin et al.
and of Detectron's BN* baselines: the same convolutions with biases and no
norm. Levels above the backbone's last one are max-pooled with stride 2 from
the level below, as in Mask R-CNN's P6.
"""

from typing import Mapping, Optional

import tensorflow as tf
import tf_keras

from official.projects.group_norm.modeling import conv_norm_act
from official.projects.group_norm.modeling import feature_model
from official.projects.group_norm.modeling import norms
from official.vision.modeling.decoders import factory
from official.vision.ops import spatial_transform_ops

layers = tf_keras.layers


@tf_keras.utils.register_keras_serializable(package='GroupNorm')
class FPNGN(feature_model.FeatureModel):
  """Feature pyramid (Lin et al., 2017) with a pluggable norm.

  Args:
    input_specs: {level: TensorShape} of the backbone's endpoints.
    min_level: Lowest output level. Defaults to 2 (Mask R-CNN's P2).
    max_level: Highest output level. Defaults to 6 (P6).
    num_filters: Channels of every level. Defaults to 256.
    norm: A norm-factory name or callable, or None for no norm (convolutions
      with biases instead). Defaults to 'group_norm'.
    groups: Groups of 'group_norm' (None: `group_size`). Defaults to 32.
    group_size: Channels per group, the alternative. Defaults to None.
    norm_epsilon: Defaults to 1e-5.
    norm_momentum: Defaults to 0.99 (BatchNorm only).
    kernel_initializer: Initializer of the convolutions.
    kernel_regularizer: Optional regularizer of the convolutions.
    **kwargs: `tf_keras.Model` arguments.
  """

  def __init__(self,
               input_specs: Mapping[str, tf.TensorShape],
               min_level: int = 2,
               max_level: int = 6,
               num_filters: int = 256,
               norm='group_norm',
               groups: Optional[int] = 32,
               group_size: Optional[int] = None,
               norm_epsilon: float = 1e-5,
               norm_momentum: float = 0.99,
               kernel_initializer='VarianceScaling',
               kernel_regularizer: Optional[
                   tf_keras.regularizers.Regularizer] = None,
               **kwargs):
    levels = sorted(int(level) for level in input_specs)
    if not levels or levels[0] > min_level or min_level > max_level:
      raise ValueError(
          f'FPN levels {min_level}..{max_level} need the backbone to start at '
          f'or below min_level and min_level <= max_level; the backbone has '
          f'levels {levels}.')
    config = dict(
        input_specs=input_specs, min_level=min_level, max_level=max_level,
        num_filters=num_filters, norm=norm, groups=groups,
        group_size=group_size, norm_epsilon=norm_epsilon,
        norm_momentum=norm_momentum,
        kernel_initializer=kernel_initializer,
        kernel_regularizer=kernel_regularizer)
    spec = norms.NormSpec(norm, groups, group_size, norm_epsilon,
                          norm_momentum)

    def conv_norm(x, kernel_size, name):
      return conv_norm_act.conv_norm_act(
          spec, num_filters, kernel_size, conv_name=f'{name}_conv',
          norm_name=f'{name}_norm', kernel_initializer=kernel_initializer,
          kernel_regularizer=kernel_regularizer)(x)

    inputs = {str(level): tf_keras.Input(shape=input_specs[str(level)][1:],
                                         name=f'level_{level}')
              for level in levels}
    top = min(levels[-1], max_level)
    lateral = {level: conv_norm(inputs[str(level)], 1, f'lateral_{level}')
               for level in range(min_level, top + 1)}
    merged = {top: lateral[top]}
    for level in range(top - 1, min_level - 1, -1):
      upsampled = spatial_transform_ops.nearest_upsampling(
          merged[level + 1], 2, use_keras_layer=True)
      merged[level] = layers.Add(name=f'topdown_{level}')(
          [upsampled, lateral[level]])
    outputs = {str(level): conv_norm(merged[level], 3, f'output_{level}')
               for level in range(min_level, top + 1)}
    for level in range(top + 1, max_level + 1):
      outputs[str(level)] = layers.MaxPool2D(
          pool_size=1, strides=2, padding='same', name=f'pool_{level}')(
              outputs[str(level - 1)])
    super().__init__(config, inputs, outputs, **kwargs)


@factory.register_decoder_builder('fpn_gn')
def build_fpn_gn(
    input_specs: Mapping[str, tf.TensorShape],
    model_config,
    l2_regularizer: Optional[tf_keras.regularizers.Regularizer] = None
) -> tf_keras.Model:
  """Builds FPNGN from a model config whose decoder type is 'fpn_gn'."""
  if model_config.decoder.type != 'fpn_gn':
    raise ValueError(f'build_fpn_gn got decoder type '
                     f'{model_config.decoder.type!r}, expected "fpn_gn".')
  config = model_config.decoder.get()
  spec = norms.NormSpec.of_part(config, model_config.norm_activation)
  return FPNGN(
      input_specs=input_specs,
      min_level=model_config.min_level,
      max_level=model_config.max_level,
      num_filters=config.num_filters,
      kernel_regularizer=l2_regularizer,
      **spec.part_arguments())
