"""Image classification with ResNet-GN: Model Garden's task, GN-aware."""

import os

import tensorflow as tf
import tf_keras

from official.core import task_factory
from official.projects.group_norm.configs import image_classification as cls_cfg
from official.projects.group_norm.data import input_checks
from official.projects.group_norm.data import make_digits
from official.projects.group_norm.modeling import norms
from official.vision.tasks import image_classification as mg_cls


def check_norms(model: tf_keras.Model, norm: str) -> None:
  """Raises if a model built for `norm` holds another kind of norm layer.

  A GN config must never silently give a BN model (or the reverse).
  """
  if not isinstance(norm, str):
    return
  kinds = {type(layer).__name__ for layer in _walk(model)}
  has_bn = 'BatchNormalization' in kinds
  has_gn = 'GroupNormalization' in kinds
  if norms.is_batch_norm(norm) and has_gn or (
      not norms.is_batch_norm(norm) and has_bn):
    raise ValueError(f'The model built for norm {norm!r} contains '
                     f'{sorted(k for k in kinds if "Normalization" in k)}.')


def check_model_norms(model: tf_keras.Model, model_config) -> None:
  """`check_norms` for a model built from `model_config` with a ResNet-GN."""
  backbone = model_config.backbone
  if backbone.type == 'resnet_gn':
    check_norms(model, backbone.resnet_gn.norm)


def _walk(layer):
  yield layer
  for sub in getattr(layer, 'layers', []):
    yield from _walk(sub)


@task_factory.register_task_cls(cls_cfg.ImageClassificationTask)
class ImageClassificationTask(mg_cls.ImageClassificationTask):
  """Model Garden's classification task; builds and checks the ResNet-GN."""

  def build_model(self) -> tf_keras.Model:
    model = super().build_model()
    check_model_norms(model, self.task_config.model)
    return model

  def build_inputs(self, params, input_context=None) -> tf.data.Dataset:
    if self.task_config.make_digits_if_missing and not tf.io.gfile.glob(
        params.input_path):
      make_digits.make_digits(os.path.dirname(params.input_path) or '.')
    input_checks.check_input_path(params)
    return super().build_inputs(params, input_context)

