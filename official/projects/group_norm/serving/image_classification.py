"""Serving module for ResNet-GN classifiers: Model Garden's, norm-checked."""

from official.projects.group_norm.modeling import norms
from official.vision.serving import image_classification as mg_serving


class ClassificationModule(mg_serving.ClassificationModule):
  """Model Garden's ClassificationModule; refuses a model of the wrong norm.

  The model comes from the experiment's config through Model Garden's factory
  (which knows the registered `resnet_gn` backbone); the check makes sure a GN
  config can never export a BN model, e.g. through a stale registry.
  """

  def _build_model(self):
    model = super()._build_model()
    norms.check_model_norms(model, self.params.task.model)
    return model
