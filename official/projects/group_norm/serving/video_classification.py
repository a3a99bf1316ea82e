"""Serving module for I3D ResNet-3D-GN: Model Garden's, norm-checked."""

from official.projects.group_norm.modeling import norms
from official.vision.serving import video_classification as mg_serving


class VideoClassificationModule(mg_serving.VideoClassificationModule):
  """Model Garden's VideoClassificationModule; refuses the wrong norms.

  Model Garden's module builds the model through its factory (which knows the
  registered `resnet_3d_gn` backbone); the check makes sure a GN config can
  never export a BN model. Its `image_tensor` signature takes uint8 clips
  `[N, T, H, W, 3]` (T = frames x temporal stride), preprocessed as Model
  Garden's evaluation does, and returns `logits` and `probs`.
  """

  def _build_model(self):
    model = super()._build_model()
    norms.check_model_norms(model, self.params.task.model)
    return model
