"""Serving module for Mask R-CNN-GN: Model Garden's detection module."""

import tf_keras

from official.projects.group_norm.modeling import maskrcnn_gn
from official.projects.group_norm.modeling import norms
from official.vision.serving import detection as mg_detection


class DetectionModule(mg_detection.DetectionModule):
  """Model Garden's `DetectionModule`, building the GN Mask R-CNN.

  Pre- and post-processing (resize and pad, anchors, box rescaling, masks)
  are Model Garden's; only the model differs, and it is checked to hold the
  norms its config names.
  """

  def _build_model(self):
    generator = self.params.task.model.detection_generator
    if self._batch_size is None and generator.nms_version not in (
        'batched', 'v2', 'v3'):
      raise ValueError(
          f'nms_version={generator.nms_version!r} needs a fixed --batch_size; '
          'or export with task.model.detection_generator.nms_version=batched.')
    input_specs = tf_keras.layers.InputSpec(
        shape=[self._batch_size, *self._padded_size, 3])
    model = maskrcnn_gn.build_maskrcnn_gn(input_specs, self.params.task.model)
    norms.check_model_norms(model, self.params.task.model)
    return model
