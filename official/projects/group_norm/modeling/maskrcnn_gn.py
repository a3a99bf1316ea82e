"""Builds Model Garden's `MaskRCNNModel` with the project's norm-aware heads.

Model Garden's `factory.build_maskrcnn` builds the backbone and decoder from
their registries (so `resnet_gn` and `fpn_gn` come for free) and every
non-learned part (RoI generator, samplers, aligners, detection generator),
but hard-wires its BatchNorm heads. This builder keeps all of that and swaps
in `heads_gn`'s RPN, box and mask heads, each with the norm its config names.
"""

from typing import Dict, Optional

import tf_keras

from official.projects.group_norm.modeling import heads_gn
from official.projects.group_norm.modeling import norms
from official.vision.modeling import factory
from official.vision.modeling import maskrcnn_model


def _check_supported(model_config) -> None:
  head = model_config.detection_head
  unsupported = {
      'rpn_head.use_separable_conv': model_config.rpn_head.use_separable_conv,
      'detection_head.use_separable_conv': head.use_separable_conv,
      'detection_head.num_fcs != 1': head.num_fcs != 1,
      'roi_sampler.cascade_iou_thresholds': bool(
          model_config.roi_sampler.cascade_iou_thresholds),
  }
  if model_config.include_mask:
    unsupported['mask_head.use_separable_conv'] = (
        model_config.mask_head.use_separable_conv)
  chosen = [name for name, value in unsupported.items() if value]
  if chosen:
    raise ValueError(f'The GN Mask R-CNN builder does not support {chosen}; '
                     'its heads are 4conv1fc / 4-conv with plain convolutions '
                     'and one detection stage.')


def build_heads(model_config,
                l2_regularizer=None) -> Dict[str, tf_keras.layers.Layer]:
  """The RPN, detection and (if `include_mask`) mask heads of `model_config`.

  Each head's norm comes from its own config; epsilon, momentum and
  activation from the model's `norm_activation`.
  """
  rpn, box = model_config.rpn_head, model_config.detection_head

  def norm_args(head):
    spec = norms.NormSpec.of_part(head, model_config.norm_activation)
    return dict(activation=model_config.norm_activation.activation,
                kernel_regularizer=l2_regularizer, **spec.part_arguments())

  heads = {
      'rpn_head': heads_gn.RPNHeadGN(
          min_level=model_config.min_level, max_level=model_config.max_level,
          num_anchors_per_location=(len(model_config.anchor.aspect_ratios) *
                                    model_config.anchor.num_scales),
          num_convs=rpn.num_convs, num_filters=rpn.num_filters,
          name='rpn_head', **norm_args(rpn)),
      'detection_head': heads_gn.DetectionHeadGN(
          num_classes=model_config.num_classes, num_convs=box.num_convs,
          num_filters=box.num_filters, fc_dims=box.fc_dims,
          class_agnostic_bbox_pred=box.class_agnostic_bbox_pred,
          name='detection_head', **norm_args(box)),
      'mask_head': None,
  }
  if model_config.include_mask:
    mask = model_config.mask_head
    heads['mask_head'] = heads_gn.MaskHeadGN(
        num_classes=model_config.num_classes,
        upsample_factor=mask.upsample_factor, num_convs=mask.num_convs,
        num_filters=mask.num_filters, class_agnostic=mask.class_agnostic,
        name='mask_head', **norm_args(mask))
  return heads


def build_maskrcnn_gn(
    input_specs: tf_keras.layers.InputSpec,
    model_config,
    l2_regularizer: Optional[tf_keras.regularizers.Regularizer] = None
) -> maskrcnn_model.MaskRCNNModel:
  """Builds a Mask R-CNN from a `configs.maskrcnn.MaskRCNN` config.

  Args:
    input_specs: The image input spec, `[batch, height, width, 3]`.
    model_config: A `configs.maskrcnn.MaskRCNN` (its heads carry norms).
    l2_regularizer: Optional kernel regularizer (never applied to norms).

  Returns:
    Model Garden's `MaskRCNNModel`, with the `heads_gn` heads.

  Raises:
    ValueError: for options the GN heads do not have.
  """
  _check_supported(model_config)
  reference = factory.build_maskrcnn(input_specs, model_config, l2_regularizer)
  # Model Garden's heads are dropped unused; the rest is kept as built.
  parts = dict(reference.get_config())
  parts.update(build_heads(model_config, l2_regularizer))
  return maskrcnn_model.MaskRCNNModel(**parts)

