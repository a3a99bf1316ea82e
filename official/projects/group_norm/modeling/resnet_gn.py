"""ResNet whose every norm comes from the norm factory (GN by default).

Model Garden's ResNet hard-wires BatchNormalization inside its blocks. This one
has the same topology (v0 stem, Model Garden's block specs, ResNet v1.5 strides
on the 3x3 conv, a projection shortcut in the first block of each group), so
with `norm='batch_norm'` it has exactly Model Garden's parameter count, and
with `norm='group_norm'` it is the paper's ResNet-GN. Endpoints are '2'..'5',
as Model Garden's, so FPN decoders and heads plug in unchanged.

Following the paper (Sec. 4.1), the last norm of each residual block can start
with gamma = 0, so every block starts as the identity.
"""

from typing import Optional

import tf_keras

from official.projects.group_norm.modeling import conv_norm_act
from official.projects.group_norm.modeling import feature_model
from official.projects.group_norm.modeling import norms
from official.vision.modeling.backbones import factory
from official.vision.modeling.backbones import resnet as mg_resnet

layers = tf_keras.layers
STEM_TYPES = ('imagenet', 'cifar')


@tf_keras.utils.register_keras_serializable(package='GroupNorm')
class ResNetGN(feature_model.FeatureModel):
  """ResNet-18/34/50/101/152 with a pluggable norm (Wu & He, 2018, Sec. 4).

  Args:
    model_id: Depth, one of Model Garden's `RESNET_SPECS` keys (18, 34, 50,
      101, 152, ...).
    input_specs: `tf_keras.layers.InputSpec` of the input images (NHWC).
    norm: A norm-factory name ('group_norm', 'batch_norm', ...) or callable.
      Defaults to 'group_norm'.
    groups: Groups of 'group_norm' (None: `group_size`). Defaults to 32.
    group_size: Channels per group, the alternative. Defaults to None.
    norm_epsilon: Defaults to 1e-5.
    norm_momentum: Defaults to 0.9 (BatchNorm only).
    zero_init_last_gamma: Start the last norm of each block at gamma = 0.
      Defaults to True.
    depth_multiplier: Scales every layer's channel count. Defaults to 1.0.
    activation: Activation name. Defaults to 'relu'.
    kernel_initializer: Initializer of the convolutions.
    kernel_regularizer: Optional regularizer of the convolutions.
    norm_regularizer: Optional regularizer of the norms' gamma and beta (the
      paper's ImageNet recipe decays them too).
    weight_standardization: Weight-standardized convolutions
      (`ws_conv.WSConv2D`, GN+WS as in BiT) instead of plain ones. Defaults
      to False.
    stem_type: 'imagenet' (a 7x7 stride-2 conv and a stride-2 max-pool, /4)
      or 'cifar' (one 3x3 stride-1 conv, no pooling: for 28-32 px images,
      whose last maps would otherwise collapse to 1x1). Defaults to
      'imagenet'.
    num_stages: How many of `model_id`'s block groups to build, from the
      first (CIFAR ResNets have 3). Defaults to 4; endpoints are '2' to
      str(1 + num_stages).
    frozen_stages: Stages whose weights stay fixed in training, Detectron's
      FREEZE_AT: 0 none, 1 the stem, 2 the stem and the first block group
      (Detectron's default when fine-tuning a pretrained backbone), and so
      on. Defaults to 0.
    **kwargs: `tf_keras.Model` arguments.
  """

  def __init__(self,
               model_id: int,
               input_specs: layers.InputSpec = layers.InputSpec(
                   shape=[None, None, None, 3]),
               norm='group_norm',
               groups: Optional[int] = 32,
               group_size: Optional[int] = None,
               norm_epsilon: float = 1e-5,
               norm_momentum: float = 0.9,
               zero_init_last_gamma: bool = True,
               depth_multiplier: float = 1.0,
               activation: str = 'relu',
               kernel_initializer='VarianceScaling',
               kernel_regularizer=None,
               norm_regularizer=None,
               weight_standardization: bool = False,
               stem_type: str = 'imagenet',
               num_stages: int = 4,
               frozen_stages: int = 0,
               **kwargs):
    if model_id not in mg_resnet.RESNET_SPECS:
      raise ValueError(f'Unknown ResNet depth model_id={model_id!r}; known: '
                       f'{sorted(mg_resnet.RESNET_SPECS)}.')
    if stem_type not in STEM_TYPES:
      raise ValueError(f'Unknown stem_type={stem_type!r}; known: '
                       f'{STEM_TYPES}.')
    specs = mg_resnet.RESNET_SPECS[model_id]
    if not 1 <= num_stages <= len(specs):
      raise ValueError(f'num_stages={num_stages} must be in 1..{len(specs)}.')
    if not 0 <= frozen_stages <= 1 + num_stages:
      raise ValueError(f'frozen_stages={frozen_stages} must be in '
                       f'0..{1 + num_stages} (the stem and {num_stages} block '
                       'groups).')
    config = dict(
        model_id=model_id, input_specs=input_specs, norm=norm, groups=groups,
        group_size=group_size, norm_epsilon=norm_epsilon,
        norm_momentum=norm_momentum,
        zero_init_last_gamma=zero_init_last_gamma,
        depth_multiplier=depth_multiplier, activation=activation,
        kernel_initializer=kernel_initializer,
        kernel_regularizer=kernel_regularizer,
        norm_regularizer=norm_regularizer,
        weight_standardization=weight_standardization, stem_type=stem_type,
        num_stages=num_stages, frozen_stages=frozen_stages)
    spec = norms.NormSpec(norm, groups, group_size, norm_epsilon,
                          norm_momentum)
    if not spec.normalizes:
      raise ValueError('ResNetGN needs a norm; received norm=None.')

    unit = conv_norm_act.residual_units(
        spec, activation, norm_regularizer,
        weight_standardization=weight_standardization,
        kernel_initializer=kernel_initializer,
        kernel_regularizer=kernel_regularizer)

    def block(x, filters, strides, use_projection, bottleneck, name):
      out_filters = filters * 4 if bottleneck else filters
      shortcut = x
      if use_projection:
        shortcut = unit(x, out_filters, 1, strides, f'{name}_proj_conv',
                        f'{name}_proj_norm')
      if bottleneck:
        kernels_strides = ((1, 1, filters), (3, strides, filters),
                           (1, 1, out_filters))
      else:
        kernels_strides = ((3, strides, filters), (3, 1, filters))
      for i, (kernel, stride, channels) in enumerate(kernels_strides, 1):
        last = i == len(kernels_strides)
        x = unit(x, channels, kernel, stride, f'{name}_conv{i}',
                 f'{name}_norm{i}', act_name=None if last else f'{name}_act{i}',
                 zero_gamma=last and zero_init_last_gamma)
      x = layers.Add(name=f'{name}_add')([x, shortcut])
      return layers.Activation(activation, name=f'{name}_out')(x)

    inputs = tf_keras.Input(shape=input_specs.shape[1:], name='images')
    stem_kernel, stem_stride = (7, 2) if stem_type == 'imagenet' else (3, 1)
    x = unit(inputs, int(64 * depth_multiplier), stem_kernel, stem_stride,
             'stem_conv', 'stem_norm', act_name='stem_act')
    if stem_type == 'imagenet':
      x = layers.MaxPool2D(3, 2, padding='same', name='stem_pool')(x)
    endpoints = {}
    for level, (block_type, filters, repeats) in enumerate(
        specs[:num_stages], start=2):
      for b in range(repeats):
        x = block(x, int(filters * depth_multiplier),
                  strides=2 if (b == 0 and level > 2) else 1,
                  use_projection=b == 0,
                  bottleneck=block_type == 'bottleneck',
                  name=f'l{level}_b{b}')
      endpoints[str(level)] = x
    super().__init__(config, inputs, endpoints, **kwargs)
    # Stage 1 is the stem, stage k > 1 block group l<k>.
    frozen = ('stem_',) + tuple(f'l{level}_'
                                for level in range(2, frozen_stages + 1))
    for layer in self.layers:
      if frozen_stages and layer.name.startswith(frozen):
        layer.trainable = False


@factory.register_backbone_builder('resnet_gn')
def build_resnet_gn(
    input_specs: tf_keras.layers.InputSpec,
    backbone_config,
    norm_activation_config,
    l2_regularizer: Optional[tf_keras.regularizers.Regularizer] = None
) -> tf_keras.Model:
  """Builds ResNetGN from a `Backbone` config whose type is 'resnet_gn'."""
  config, shared = norms.backbone_arguments(
      backbone_config, 'resnet_gn', norm_activation_config, l2_regularizer)
  return ResNetGN(
      input_specs=input_specs,
      weight_standardization=config.weight_standardization,
      stem_type=config.stem_type, num_stages=config.num_stages,
      frozen_stages=config.frozen_stages, **shared)
