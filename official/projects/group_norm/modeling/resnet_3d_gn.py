"""3-D ResNet whose every norm comes from the norm factory: I3D with GN.

Model Garden's `ResNet3D` hard-wires BatchNormalization and, as `ResNet3D50`,
differs from the Non-local Networks' I3D baseline the paper trains (Sec. 4.3):
temporal stride 2 in its stem, no pool after res2, self-gating on. This
backbone builds that baseline with any norm: a 5x7x7 stem conv and a 1x3x3
stem pool, both with temporal stride 1; bottlenecks whose first 1x1 conv is
inflated to 3x1x1 where `temporal_kernel_sizes` says 3 (I3D: res2 all, res3
[1,0,1,0], res4 [1,0,1,0,1,0], res5 [0,1,0]); a 2x1x1 temporal max-pool with
stride 2 after res2. Blocks are Model Garden's `BottleneckBlock3D` (temporal
stride on the first conv, spatial stride on the 1x3x3 conv, projection when
the width changes), so with `norm='batch_norm'` the parameter count equals
Model Garden's for the same specs. GN normalizes each clip over (T, H, W)
and the channels of a group. Convs before a norm have no bias, and the last
gamma of each block starts at zero, as in the 2-D ResNet-GN.

Layers carry the 2-D `ResNetGN`'s names (`stem_conv`, `l3_b0_conv1`, ...),
so a 2-D checkpoint inflates into this backbone layer by layer
(`inflate_2d_weights`).
"""

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tf_keras

from official.projects.group_norm.modeling import conv_norm_act
from official.projects.group_norm.modeling import feature_model
from official.projects.group_norm.modeling import norms
from official.projects.group_norm.modeling import resnet_gn
from official.vision.modeling.backbones import factory
from official.vision.modeling.backbones import resnet_3d as mg_resnet_3d

layers = tf_keras.layers

# The Non-local baseline's I3D kernels (3: a 3x1x1 first conv; 1: 1x1x1).
I3D_TEMPORAL_KERNEL_SIZES = {
    50: ((3, 3, 3), (3, 1, 3, 1), (3, 1, 3, 1, 3, 1), (1, 3, 1)),
    101: ((3, 3, 3), (3, 1, 3, 1),
          tuple([3, 1] * 11 + [3]), (1, 3, 1)),
}


@tf_keras.utils.register_keras_serializable(package='GroupNorm')
class ResNet3DGN(feature_model.FeatureModel):
  """I3D ResNet with a pluggable norm (Wu & He, 2018, Sec. 4.3).

  Args:
    model_id: Depth, a key of Model Garden's 3-D `RESNET_SPECS` (50, 101,
      ...): bottleneck blocks of widths 64, 128, 256, 512 (x4 out).
    temporal_kernel_sizes: One tuple per block group, one temporal kernel
      size per block (the first conv's); as many blocks as entries (fewer
      than `model_id`'s make a network for a CPU). Defaults to `model_id`'s
      blocks with I3D's kernels.
    temporal_strides: Temporal stride of each group's first block. Defaults
      to 1 for every group.
    input_specs: InputSpec of the clips, [N, T, H, W, C].
    norm: A norm-factory name or callable. Defaults to 'group_norm'.
    groups: Groups of 'group_norm' (None to use `group_size`).
    group_size: Channels per group of 'group_norm'.
    stem_conv_temporal_kernel_size: The stem conv's temporal kernel (5).
    stem_conv_temporal_stride: The stem conv's temporal stride (1).
    stem_pool_temporal_stride: The stem pool's temporal stride (1; the pool
      is 1x3x3 at stride 1, 3x3x3 otherwise, as Model Garden's).
    res2_temporal_pool: Max-pool 2x1x1 with temporal stride 2 after res2.
    depth_multiplier: Scales every width.
    norm_epsilon: Epsilon of every norm.
    norm_momentum: Moving-average momentum (BatchNorm only).
    zero_init_last_gamma: Start the last norm of each block at gamma = 0.
    activation: Activation name.
    kernel_initializer: Initializer of the convolutions.
    kernel_regularizer: Optional regularizer of the convolutions.
    norm_regularizer: Optional regularizer of the norms' gamma and beta.
    **kwargs: `tf_keras.Model` arguments.
  """

  def __init__(self,
               model_id: int = 50,
               temporal_kernel_sizes: Optional[Sequence[Sequence[int]]] = None,
               temporal_strides: Optional[Sequence[int]] = None,
               input_specs: layers.InputSpec = layers.InputSpec(
                   shape=[None, None, None, None, 3]),
               norm='group_norm',
               groups: Optional[int] = 32,
               group_size: Optional[int] = None,
               stem_conv_temporal_kernel_size: int = 5,
               stem_conv_temporal_stride: int = 1,
               stem_pool_temporal_stride: int = 1,
               res2_temporal_pool: bool = True,
               depth_multiplier: float = 1.0,
               norm_epsilon: float = 1e-5,
               norm_momentum: float = 0.9,
               zero_init_last_gamma: bool = True,
               activation: str = 'relu',
               kernel_initializer='VarianceScaling',
               kernel_regularizer=None,
               norm_regularizer=None,
               **kwargs):
    if model_id not in mg_resnet_3d.RESNET_SPECS:
      raise ValueError(f'Unknown 3-D ResNet depth model_id={model_id!r}; '
                       f'known: {sorted(mg_resnet_3d.RESNET_SPECS)}.')
    specs = mg_resnet_3d.RESNET_SPECS[model_id]
    if temporal_kernel_sizes is None:
      if model_id not in I3D_TEMPORAL_KERNEL_SIZES:
        raise ValueError('Give temporal_kernel_sizes; I3D defaults exist for '
                         f'model_id {sorted(I3D_TEMPORAL_KERNEL_SIZES)} only.')
      temporal_kernel_sizes = I3D_TEMPORAL_KERNEL_SIZES[model_id]
    kernels = [[int(k) for k in group] for group in temporal_kernel_sizes]
    strides = [int(s) for s in temporal_strides or [1] * len(specs)]
    if (len(kernels) != len(specs) or len(strides) != len(specs)
        or not all(kernels)):
      raise ValueError(
          f'Expected {len(specs)} block groups of at least one block: '
          f'temporal_kernel_sizes={kernels}, temporal_strides={strides}.')
    config = dict(
        model_id=model_id, temporal_kernel_sizes=kernels,
        temporal_strides=strides,
        input_specs=input_specs, norm=norm, groups=groups,
        group_size=group_size,
        stem_conv_temporal_kernel_size=stem_conv_temporal_kernel_size,
        stem_conv_temporal_stride=stem_conv_temporal_stride,
        stem_pool_temporal_stride=stem_pool_temporal_stride,
        res2_temporal_pool=res2_temporal_pool,
        depth_multiplier=depth_multiplier, norm_epsilon=norm_epsilon,
        norm_momentum=norm_momentum,
        zero_init_last_gamma=zero_init_last_gamma, activation=activation,
        kernel_initializer=kernel_initializer,
        kernel_regularizer=kernel_regularizer,
        norm_regularizer=norm_regularizer)
    spec = norms.NormSpec(norm, groups, group_size, norm_epsilon,
                          norm_momentum)
    if not spec.normalizes:
      raise ValueError('ResNet3DGN needs a norm; received norm=None.')

    unit = conv_norm_act.residual_units(
        spec, activation, norm_regularizer, conv_class=layers.Conv3D,
        kernel_initializer=kernel_initializer,
        kernel_regularizer=kernel_regularizer)

    def block(x, filters, temporal_kernel, temporal_stride, spatial_stride,
              name):
      shortcut = x
      if x.shape[-1] != 4 * filters:
        shortcut = unit(x, 4 * filters, 1,
                        (temporal_stride, spatial_stride, spatial_stride),
                        f'{name}_proj_conv', f'{name}_proj_norm')
      elif temporal_stride > 1 or spatial_stride > 1:
        shortcut = layers.MaxPool3D(
            1, (temporal_stride, spatial_stride, spatial_stride),
            name=f'{name}_shortcut_pool')(x)
      x = unit(x, filters, (temporal_kernel, 1, 1), (temporal_stride, 1, 1),
               f'{name}_conv1', f'{name}_norm1', act_name=f'{name}_act1')
      x = unit(x, filters, (1, 3, 3), (1, spatial_stride, spatial_stride),
               f'{name}_conv2', f'{name}_norm2', act_name=f'{name}_act2')
      x = unit(x, 4 * filters, 1, 1, f'{name}_conv3', f'{name}_norm3',
               zero_gamma=zero_init_last_gamma)
      x = layers.Add(name=f'{name}_add')([x, shortcut])
      return layers.Activation(activation, name=f'{name}_out')(x)

    inputs = tf_keras.Input(shape=input_specs.shape[1:], name='clips')
    x = unit(inputs, int(64 * depth_multiplier),
             (stem_conv_temporal_kernel_size, 7, 7),
             (stem_conv_temporal_stride, 2, 2), 'stem_conv', 'stem_norm',
             act_name='stem_act')
    x = layers.MaxPool3D(
        (1 if stem_pool_temporal_stride == 1 else 3, 3, 3),
        (stem_pool_temporal_stride, 2, 2), padding='same',
        name='stem_pool')(x)
    endpoints = {}
    for level, ((_, filters, _), group_kernels, stride) in enumerate(
        zip(specs, kernels, strides), start=2):
      for b in range(len(group_kernels)):
        x = block(x, int(filters * depth_multiplier), group_kernels[b],
                  stride if b == 0 else 1,
                  2 if (b == 0 and level > 2) else 1, f'l{level}_b{b}')
      if level == 2 and res2_temporal_pool:
        x = layers.MaxPool3D((2, 1, 1), (2, 1, 1), padding='same',
                             name='res2_temporal_pool')(x)
      endpoints[str(level)] = x
    super().__init__(config, inputs, endpoints, **kwargs)


def inflate_2d_weights(model_3d: tf_keras.Model,
                       weights_2d: Dict[str, np.ndarray]) -> None:
  """Sets a 3-D backbone's weights from a 2-D ResNet-GN's, I3D style.

  Each 2-D kernel [kh, kw, in, out] is repeated along time to the 3-D
  kernel's length t and divided by t, so a clip of identical frames gives
  each frame the 2-D response (away from the temporal edges, where 'same'
  padding adds zeros); norms' gamma and beta (and BN's moving statistics)
  are copied.

  Args:
    model_3d: A `ResNet3DGN` whose layer names match the 2-D model's.
    weights_2d: {'<layer>/<weight>': value} of the 2-D backbone, e.g. from
      `checkpoint_weights`.

  Raises:
    ValueError: naming the 3-D variables without a 2-D source, the 2-D ones
      left unused, and those whose shapes cannot inflate.
  """
  missing, mismatched, used = [], [], set()
  assignments: List[Tuple[tf.Variable, np.ndarray]] = []
  for layer in model_3d.layers:
    for variable in layer.weights:
      key = f'{layer.name}/{_weight_name(variable)}'
      if key not in weights_2d:
        missing.append(key)
        continue
      used.add(key)
      value = np.asarray(weights_2d[key])
      shape = tuple(variable.shape)
      if len(shape) == 5 and value.ndim == 4 and value.shape == shape[1:]:
        value = np.repeat(value[None], shape[0], axis=0) / shape[0]
      if value.shape != shape:
        mismatched.append(f'{key} {value.shape} -> {shape}')
        continue
      assignments.append((variable, value))
  unused = sorted(set(weights_2d) - used)
  if missing or mismatched or unused:
    raise ValueError(
        'The 2-D checkpoint does not match the 3-D backbone. Variables '
        f'without a 2-D source: {missing[:10]}{" ..." * (len(missing) > 10)}; '
        f'shapes that cannot inflate: {mismatched[:10]}; 2-D variables left '
        f'unused: {unused[:10]}{" ..." * (len(unused) > 10)}.')
  for variable, value in assignments:
    variable.assign(value)


def layer_weights(model: tf_keras.Model) -> Dict[str, np.ndarray]:
  """{'<layer>/<weight>': value} of a model's layers (what inflation maps)."""
  return {f'{layer.name}/{_weight_name(variable)}': variable.numpy()
          for layer in model.layers for variable in layer.weights}


def _weight_name(variable) -> str:
  return variable.name.split('/')[-1].split(':')[0]


def inflate_checkpoint(model_3d: 'ResNet3DGN', checkpoint_path: str) -> None:
  """Inflates a 2-D ResNet-GN classification checkpoint into `model_3d`.

  The 2-D backbone is rebuilt with the 3-D one's depth, width and norm
  (`resnet_gn.ResNetGN`, the `resnet50_gn_imagenet` backbone), its weights
  are read from the checkpoint's `backbone` (as Model Garden's
  `init_checkpoint_modules: backbone` reads it) and `inflate_2d_weights`
  maps them.

  Args:
    model_3d: The 3-D backbone.
    checkpoint_path: A checkpoint file prefix or a folder (its latest).

  Raises:
    ValueError: for a missing checkpoint, or one that does not match.
  """
  if tf.io.gfile.isdir(checkpoint_path):
    checkpoint_path = tf.train.latest_checkpoint(checkpoint_path)
  if not checkpoint_path:
    raise ValueError('No checkpoint to inflate: the folder holds none.')
  config = model_3d.get_config()
  model_2d = resnet_gn.ResNetGN(
      config['model_id'], norm=config['norm'], groups=config['groups'],
      group_size=config['group_size'],
      depth_multiplier=config['depth_multiplier'],
      input_specs=layers.InputSpec(shape=[None, 32, 32, 3]))
  status = tf.train.Checkpoint(backbone=model_2d).read(checkpoint_path)
  try:
    status.expect_partial().assert_existing_objects_matched()
  except AssertionError as e:
    raise ValueError(
        f'{checkpoint_path} holds no 2-D ResNet-GN backbone of depth '
        f'{config["model_id"]}, width x{config["depth_multiplier"]} and norm '
        f'{config["norm"]!r}: {str(e)[:500]}') from e
  inflate_2d_weights(model_3d, layer_weights(model_2d))


@factory.register_backbone_builder('resnet_3d_gn')
def build_resnet_3d_gn(
    input_specs: tf_keras.layers.InputSpec,
    backbone_config,
    norm_activation_config,
    l2_regularizer: Optional[tf_keras.regularizers.Regularizer] = None
) -> tf_keras.Model:
  """Builds ResNet3DGN from a `Backbone3D` config of type 'resnet_3d_gn'."""
  config, shared = norms.backbone_arguments(
      backbone_config, 'resnet_3d_gn', norm_activation_config, l2_regularizer)
  return ResNet3DGN(
      temporal_kernel_sizes=[list(b.temporal_kernel_sizes)
                             for b in config.block_specs] or None,
      temporal_strides=[b.temporal_strides for b in config.block_specs]
      or None,
      input_specs=input_specs,
      stem_conv_temporal_kernel_size=config.stem_conv_temporal_kernel_size,
      stem_conv_temporal_stride=config.stem_conv_temporal_stride,
      stem_pool_temporal_stride=config.stem_pool_temporal_stride,
      res2_temporal_pool=config.res2_temporal_pool, **shared)
