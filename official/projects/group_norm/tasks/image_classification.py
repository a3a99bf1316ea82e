"""Image classification with ResNet-GN: Model Garden's task, GN-aware."""

import os

from absl import logging
import tensorflow as tf
import tf_keras

from official.core import task_factory
from official.projects.group_norm.configs import image_classification as cls_cfg
from official.projects.group_norm.data import input_checks
from official.projects.group_norm.data import make_digits
from official.projects.group_norm.data import make_fashion_mnist
from official.projects.group_norm.data import make_shapes_classification
from official.projects.group_norm.modeling import norms
from official.vision.tasks import image_classification as mg_cls


@task_factory.register_task_cls(cls_cfg.ImageClassificationTask)
class ImageClassificationTask(mg_cls.ImageClassificationTask):
  """Model Garden's classification task; builds and checks the ResNet-GN."""

  def build_model(self) -> tf_keras.Model:
    """Model Garden's model, checked to hold the configured norms."""
    model = super().build_model()
    norms.check_model_norms(model, self.task_config.model)
    return model

  def build_inputs(self, params, input_context=None) -> tf.data.Dataset:
    """Makes the data if asked and missing, checks paths, reads."""
    config = self.task_config
    if ((config.make_digits_if_missing or config.make_shapes_if_missing or
         config.make_fashion_mnist_if_missing)
        and not tf.io.gfile.glob(params.input_path)):
      data_dir = os.path.dirname(params.input_path) or '.'
      # At the model's input size, so that the decoder does not resize.
      image_size = config.model.input_size[0]
      if config.make_digits_if_missing:
        make_digits.make_digits(data_dir, image_size,
                                style=config.digits_style)
      elif config.make_fashion_mnist_if_missing:
        make_fashion_mnist.make_fashion_mnist(
            data_dir, config.fashion_mnist_style, image_size,
            config.fashion_mnist_train_per_class, log=logging.info)
      else:
        make_shapes_classification.make_shapes_classification(
            data_dir, image_size=image_size)
    input_checks.check_input_path(params)
    return super().build_inputs(params, input_context)

