"""Mask R-CNN with GN: Model Garden's task with the GN model builder."""

import os

from absl import logging
import tensorflow as tf
import tf_keras

from official.core import task_factory
from official.projects.group_norm.configs import maskrcnn as maskrcnn_cfg
from official.projects.group_norm.data import input_checks
from official.projects.group_norm.data import make_fashion_scenes
from official.projects.group_norm.data import make_shapes
from official.projects.group_norm.data import records
from official.projects.group_norm.modeling import maskrcnn_gn
from official.projects.group_norm.modeling import norms
from official.vision.tasks import maskrcnn as mg_maskrcnn


def l2_regularizer(task_config):
  """Model Garden's kernel regularizer (halved to match tf.nn.l2_loss)."""
  decay = task_config.losses.l2_weight_decay
  return tf_keras.regularizers.l2(decay / 2.0) if decay else None


@task_factory.register_task_cls(maskrcnn_cfg.MaskRCNNTask)
class MaskRCNNTask(mg_maskrcnn.MaskRCNNTask):
  """Model Garden's Mask R-CNN task; `build_model` builds the GN model.

  Training, losses, COCO evaluation (box and mask AP) and checkpoint
  initialisation are Model Garden's own.
  """

  def build_model(self) -> tf_keras.Model:
    """The GN Mask R-CNN, checked to hold the configured norms."""
    model_config = self.task_config.model
    model = maskrcnn_gn.build_maskrcnn_gn(
        tf_keras.layers.InputSpec(shape=[None] + model_config.input_size),
        model_config, l2_regularizer(self.task_config))
    norms.check_model_norms(model, model_config)
    if self.task_config.freeze_backbone:
      model.backbone.trainable = False
    # Creates the variables, as Model Garden's task does.
    model(tf_keras.Input(model_config.input_size),
          image_shape=tf_keras.layers.Input([2]), training=False)
    return model

  def initialize(self, model: tf_keras.Model) -> None:
    """Model Garden's initialisation, after checking `init_checkpoint`."""
    input_checks.check_init_checkpoint(self.task_config.init_checkpoint)
    super().initialize(model)

  def _fashion_scenes(self):
    """`make_fashion_scenes`' settings this experiment asks for."""
    config = self.task_config
    min_items, max_items = config.fashion_scenes_items
    return dict(image_size=config.model.input_size[0], min_items=min_items,
                max_items=max_items, scale=tuple(config.fashion_scenes_scale))

  def build_inputs(self, params, input_context=None) -> tf.data.Dataset:
    """Makes the scenes if asked and missing, checks paths, reads.

    Raises:
      ValueError: when the Fashion-MNIST scenes' folder holds scenes made
        with other settings than the experiment's (`records.check_settings`).
    """
    config = self.task_config
    if ((config.make_shapes_if_missing or
         config.make_fashion_scenes_if_missing) and
        not tf.io.gfile.glob(params.input_path)):
      folder = os.path.dirname(params.input_path) or '.'
      if config.make_shapes_if_missing:
        make_shapes.make_shapes(folder)
      else:
        make_fashion_scenes.make_fashion_scenes(
            folder, log=logging.info, **self._fashion_scenes())
    if config.make_fashion_scenes_if_missing:
      records.check_settings(os.path.dirname(params.input_path) or '.',
                             self._fashion_scenes())
    input_checks.check_input_path(params)
    return super().build_inputs(params, input_context)
