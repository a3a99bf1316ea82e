"""Mask R-CNN heads whose norms come from the norm factory (the paper's setup).

Model Garden's heads hard-wire BatchNormalization: the RPN head always
normalizes, and the box and mask heads normalize over the RoIs of a batch
(also after the box head's fully connected layers), which the paper shows
costs about 9 box AP at small batches. These heads keep Model Garden's call
contracts, so `MaskRCNNModel` takes them unchanged, and follow Detectron's
GN heads:
- `RPNHeadGN`: shared 3x3 conv(s), no norm by default (as in the paper);
- `DetectionHeadGN`: "4conv1fc": 4 x (3x3 conv -> norm -> ReLU), then one fc
  with no norm, then class and box predictors;
- `MaskHeadGN`: 4 x (3x3 conv -> norm -> ReLU), a 2x2 stride-2 deconvolution
  with ReLU, and per-class 1x1 mask logits.
Every norm normalizes each RoI (or image) on its own: a GN head's output for
one RoI does not depend on the other RoIs in the batch.
"""

from typing import Dict, Iterable, List, Mapping, Optional, Tuple

import tensorflow as tf
import tf_keras

from official.projects.group_norm.modeling import conv_norm_act
from official.projects.group_norm.modeling import norms

layers = tf_keras.layers


def _he_normal():
  return tf_keras.initializers.VarianceScaling(
      scale=2.0, mode='fan_out', distribution='untruncated_normal')


def _conv_stack(prefix: str, num_convs: int, num_filters: int,
                spec: norms.NormSpec, kernel_regularizer
                ) -> List[Tuple[layers.Layer, Optional[layers.Layer]]]:
  """(conv, norm or None) pairs of 3x3 units, named as Detectron's.

  Pairs, not units: checkpoints know them as `_stack/<i>/0` and `/1`.
  """
  return [tuple(conv_norm_act.conv_norm_act(
      spec, num_filters, 3, conv_name=f'{prefix}-conv_{i}',
      norm_name=f'{prefix}-conv-norm_{i}', kernel_initializer=_he_normal(),
      kernel_regularizer=kernel_regularizer))[:2] for i in range(num_convs)]


def _apply(stack: Iterable, x: tf.Tensor, activation) -> tf.Tensor:
  """Each (conv, norm) pair of the stack as a unit with `activation`."""
  for conv, norm in stack:
    x = conv_norm_act.ConvNormAct(conv, norm, activation)(x)
  return x


class _HeadConfig(layers.Layer):
  """Stores the constructor arguments for get_config/from_config."""

  def _store(self, config: Dict) -> None:
    self._config_dict = dict(config)

  def get_config(self):
    return {**super().get_config(), **self._config_dict}

  @classmethod
  def from_config(cls, config):
    return cls(**config)


@tf_keras.utils.register_keras_serializable(package='GroupNorm')
class RPNHeadGN(_HeadConfig):
  """Region proposal head; Model Garden's `RPNHead` contract.

  Args:
    min_level: Lowest feature level.
    max_level: Highest feature level.
    num_anchors_per_location: Anchors per position.
    num_convs: Shared 3x3 convs. Defaults to 1.
    num_filters: Their channels. Defaults to 256.
    norm: None (the paper's RPN) or a norm-factory name. Defaults to None.
    groups: Groups of 'group_norm' (None: `group_size`). Defaults to 32.
    group_size: Channels per group, the alternative. Defaults to None.
    norm_epsilon: Defaults to 1e-5.
    norm_momentum: Defaults to 0.99 (BatchNorm only).
    activation: Activation after each norm. Defaults to 'relu'.
    kernel_regularizer: Optional.
    **kwargs: `tf_keras.layers.Layer` arguments.
  """

  def __init__(self, min_level: int, max_level: int,
               num_anchors_per_location: int, num_convs: int = 1,
               num_filters: int = 256, norm: Optional[str] = None,
               groups: Optional[int] = 32, group_size: Optional[int] = None,
               norm_epsilon: float = 1e-5, norm_momentum: float = 0.99,
               activation: str = 'relu', kernel_regularizer=None, **kwargs):
    super().__init__(**kwargs)
    self._store(dict(
        min_level=min_level, max_level=max_level,
        num_anchors_per_location=num_anchors_per_location,
        num_convs=num_convs, num_filters=num_filters, norm=norm,
        groups=groups, group_size=group_size, norm_epsilon=norm_epsilon,
        norm_momentum=norm_momentum, activation=activation,
        kernel_regularizer=kernel_regularizer))
    self._levels = [str(level) for level in range(min_level, max_level + 1)]
    self._activation = tf_keras.activations.get(activation)
    spec = norms.NormSpec(norm, groups, group_size, norm_epsilon,
                          norm_momentum)
    # Convs are shared across levels; norms (with their statistics) are not.
    self._convs = [
        conv_norm_act.conv(
            spec, num_filters, 3, f'rpn-conv_{i}',
            kernel_initializer=tf_keras.initializers.RandomNormal(
                stddev=0.01),
            kernel_regularizer=kernel_regularizer) for i in range(num_convs)]
    self._norms = {
        level: [spec.layer(f'rpn-conv-norm_{level}_{i}')
                for i in range(num_convs)]
        for level in self._levels}

    def predictor(filters, name):  # Fresh initializer each: no shared seed.
      return layers.Conv2D(
          filters, 1, kernel_regularizer=kernel_regularizer, name=name,
          kernel_initializer=tf_keras.initializers.RandomNormal(stddev=1e-5))

    self._classifier = predictor(num_anchors_per_location, 'rpn-scores')
    self._box_regressor = predictor(4 * num_anchors_per_location, 'rpn-boxes')

  def call(self, features: Mapping[str, tf.Tensor]):
    """{level: features} -> ({level: scores}, {level: box deltas})."""
    scores, boxes = {}, {}
    for level in self._levels:
      x = _apply(zip(self._convs, self._norms[level]), features[level],
                 self._activation)
      scores[level] = self._classifier(x)
      boxes[level] = self._box_regressor(x)
    return scores, boxes


class _RoIHead(_HeadConfig):
  """A stack of 3x3 conv -> norm -> activation units on each RoI.

  The box and mask heads' shared arguments (each head documents its own):

  Args:
    prefix: Detectron's name of the head's layers ('detection', 'mask').
    num_convs: 3x3 convs on each RoI.
    num_filters: Their channels.
    kernel_regularizer: Optional.
    config: The head's own constructor arguments, for `get_config`.
    norm: A norm-factory name. Defaults to 'group_norm'.
    groups: Groups of 'group_norm' (None: `group_size`). Defaults to 32.
    group_size: Channels per group, the alternative. Defaults to None.
    norm_epsilon: Defaults to 1e-5.
    norm_momentum: Defaults to 0.99 (BatchNorm only).
    activation: Activation after each norm. Defaults to 'relu'.
    **kwargs: `tf_keras.layers.Layer` arguments.
  """

  def __init__(self, prefix: str, num_convs: int, num_filters: int,
               kernel_regularizer, config: Dict, norm: str = 'group_norm',
               groups: Optional[int] = 32, group_size: Optional[int] = None,
               norm_epsilon: float = 1e-5, norm_momentum: float = 0.99,
               activation: str = 'relu', **kwargs):
    super().__init__(**kwargs)
    self._store(dict(
        config, num_convs=num_convs, num_filters=num_filters, norm=norm,
        groups=groups, group_size=group_size, norm_epsilon=norm_epsilon,
        norm_momentum=norm_momentum, activation=activation,
        kernel_regularizer=kernel_regularizer))
    self._activation = tf_keras.activations.get(activation)
    self._stack = _conv_stack(
        prefix, num_convs, num_filters,
        norms.NormSpec(norm, groups, group_size, norm_epsilon, norm_momentum),
        kernel_regularizer)


@tf_keras.utils.register_keras_serializable(package='GroupNorm')
class DetectionHeadGN(_RoIHead):
  """Box head "4conv1fc" with GN; Model Garden's `DetectionHead` contract.

  Args:
    num_classes: Classes including background.
    num_convs: 3x3 convs on each RoI. Defaults to 4.
    num_filters: Their channels. Defaults to 256.
    fc_dims: Width of the one fully connected layer (no norm). Defaults to
      1024.
    class_agnostic_bbox_pred: One box per RoI instead of one per class.
    kernel_regularizer: Optional.
    **kwargs: The norm's and activation's arguments (`_RoIHead`: norm,
      groups, group_size, norm_epsilon, norm_momentum, activation) and
      `tf_keras.layers.Layer` arguments.
  """

  def __init__(self, num_classes: int, num_convs: int = 4,
               num_filters: int = 256, fc_dims: int = 1024,
               class_agnostic_bbox_pred: bool = False,
               kernel_regularizer=None, **kwargs):
    super().__init__(
        'detection', num_convs, num_filters, kernel_regularizer,
        dict(num_classes=num_classes, fc_dims=fc_dims,
             class_agnostic_bbox_pred=class_agnostic_bbox_pred), **kwargs)
    self._fc = layers.Dense(
        fc_dims, kernel_regularizer=kernel_regularizer,
        kernel_initializer=tf_keras.initializers.VarianceScaling(
            scale=1 / 3.0, mode='fan_out', distribution='uniform'),
        name='detection-fc_0')
    self._classifier = layers.Dense(
        num_classes, kernel_regularizer=kernel_regularizer,
        kernel_initializer=tf_keras.initializers.RandomNormal(stddev=0.01),
        name='detection-scores')
    self._box_regressor = layers.Dense(
        4 if class_agnostic_bbox_pred else 4 * num_classes,
        kernel_regularizer=kernel_regularizer,
        kernel_initializer=tf_keras.initializers.RandomNormal(stddev=0.001),
        name='detection-boxes')

  def call(self, roi_features: tf.Tensor, training=None):
    """[batch, rois, h, w, c] -> (class logits, box deltas) per RoI."""
    _, num_rois, height, width, channels = roi_features.shape.as_list()
    x = tf.reshape(roi_features, [-1, height, width, channels])
    x = _apply(self._stack, x, self._activation)
    x = tf.reshape(x, [-1, num_rois, height * width * x.shape[-1]])
    x = self._activation(self._fc(x))  # No norm: it would mix the RoIs.
    return self._classifier(x), self._box_regressor(x)


@tf_keras.utils.register_keras_serializable(package='GroupNorm')
class MaskHeadGN(_RoIHead):
  """Mask head with GN; Model Garden's `MaskHead` contract.

  Args:
    num_classes: Classes including background.
    upsample_factor: Stride of the deconvolution. Defaults to 2.
    num_convs: 3x3 convs on each RoI. Defaults to 4.
    num_filters: Their channels. Defaults to 256.
    class_agnostic: One mask per RoI instead of one per class.
    kernel_regularizer: Optional.
    **kwargs: The norm's and activation's arguments (`_RoIHead`) and
      `tf_keras.layers.Layer` arguments.
  """

  def __init__(self, num_classes: int, upsample_factor: int = 2,
               num_convs: int = 4, num_filters: int = 256,
               class_agnostic: bool = False, kernel_regularizer=None,
               **kwargs):
    super().__init__(
        'mask', num_convs, num_filters, kernel_regularizer,
        dict(num_classes=num_classes, upsample_factor=upsample_factor,
             class_agnostic=class_agnostic), **kwargs)
    self._deconv = layers.Conv2DTranspose(
        num_filters, upsample_factor, strides=upsample_factor,
        kernel_initializer=_he_normal(), kernel_regularizer=kernel_regularizer,
        name='mask-upsampling')
    self._mask_regressor = layers.Conv2D(
        1 if class_agnostic else num_classes, 1,
        kernel_initializer=_he_normal(), kernel_regularizer=kernel_regularizer,
        name='mask-logits')

  def call(self, inputs: List[tf.Tensor], training=None):
    """[roi features [b, r, h, w, c], roi classes [b, r]] -> [b, r, H, W]."""
    roi_features, roi_classes = inputs
    _, num_rois, height, width, channels = roi_features.shape.as_list()
    x = tf.reshape(roi_features, [-1, height, width, channels])
    x = _apply(self._stack, x, self._activation)
    x = self._activation(self._deconv(x))
    logits = self._mask_regressor(x)
    factor = self._config_dict['upsample_factor']
    shape = [-1, num_rois, height * factor, width * factor]
    if self._config_dict['class_agnostic']:
      return tf.reshape(logits, shape)
    logits = tf.reshape(logits, shape + [self._config_dict['num_classes']])
    return tf.gather(logits, tf.cast(roi_classes, tf.int32), axis=-1,
                     batch_dims=2)
