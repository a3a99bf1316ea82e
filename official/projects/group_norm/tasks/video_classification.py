"""Video classification with I3D ResNet-3D-GN: Model Garden's task, GN-aware."""

import os

from absl import logging
import tensorflow as tf
import tf_keras

from official.core import task_factory
from official.projects.group_norm.configs import video_classification as cfgs
from official.projects.group_norm.data import input_checks
from official.projects.group_norm.data import make_clips
from official.projects.group_norm.data import make_fashion_clips
from official.projects.group_norm.data import records
from official.projects.group_norm.modeling import norms
from official.projects.group_norm.modeling import resnet_3d_gn
from official.vision.tasks import video_classification as mg_video


@task_factory.register_task_cls(cfgs.VideoClassificationTask)
class VideoClassificationTask(mg_video.VideoClassificationTask):
  """Model Garden's video task; checks norms, inflates 2-D checkpoints.

  Training, losses, top-1/top-5 metrics and multi-clip evaluation are Model
  Garden's own.
  """

  def build_model(self) -> tf_keras.Model:
    """Model Garden's model, checked to hold the configured norms."""
    model = super().build_model()
    norms.check_model_norms(model, self.task_config.model)
    return model

  def initialize(self, model: tf_keras.Model) -> None:
    """Model Garden's initialisation, or I3D inflation of a 2-D backbone.

    Raises:
      ValueError: for an `init_checkpoint` that holds no checkpoint, or a
        2-D one that does not match the 3-D backbone (naming variables).
    """
    path = self.task_config.init_checkpoint
    input_checks.check_init_checkpoint(path)
    if path and self.task_config.inflate_init_checkpoint:
      if self.task_config.init_checkpoint_modules != 'backbone':
        raise ValueError('Inflating a 2-D checkpoint initialises the backbone '
                         'only: set task.init_checkpoint_modules=backbone.')
      resnet_3d_gn.inflate_checkpoint(model.backbone, path)
      logging.info('Inflated the 2-D backbone of %s into the 3-D one.', path)
      return
    super().initialize(model)

  @staticmethod
  def _clip_shape(params):
    # Stored at least frames x stride long, at the evaluation size: no
    # tiling, no rescale.
    return dict(num_frames=params.feature_shape[0] * params.temporal_stride,
                frame_size=params.feature_shape[1])

  def _fashion_clips(self, params):
    """What `make_fashion_clips`' clips must be for this experiment.

    The counts are not among them: a run may read fewer clips than a
    folder holds.
    """
    config = self.task_config
    return dict(classes=config.fashion_clips_classes,
                num_items=config.fashion_clips_items,
                item_scale=config.fashion_clips_item_scale,
                speed=tuple(config.fashion_clips_speed),
                **self._clip_shape(params))

  def build_inputs(self, params, input_context=None) -> tf.data.Dataset:
    """Makes the clips if asked and missing, checks paths, reads.

    Raises:
      ValueError: when the Fashion-MNIST clips' folder holds clips made with
        other settings than the experiment's (`records.check_settings`), or
        when `num_classes` does not count their labels.
    """
    config = self.task_config
    if config.make_fashion_clips_if_missing:
      labels = make_fashion_clips.num_classes(config.fashion_clips_classes)
      if params.num_classes != labels:
        raise ValueError(
            f'fashion_clips_classes={config.fashion_clips_classes!r} gives '
            f'{labels} labels; the data config has num_classes='
            f'{params.num_classes}. Set both (train and validation).')
    if ((config.make_clips_if_missing or config.make_fashion_clips_if_missing)
        and not tf.io.gfile.glob(params.input_path)):
      folder = os.path.dirname(params.input_path) or '.'
      if config.make_clips_if_missing:
        make_clips.make_clips(folder, **self._clip_shape(params))
      else:
        make_fashion_clips.make_fashion_clips(
            folder, num_train=config.train_data.num_examples,
            num_val=config.validation_data.num_examples, log=logging.info,
            **self._fashion_clips(params))
    if config.make_fashion_clips_if_missing:
      records.check_settings(os.path.dirname(params.input_path) or '.',
                             self._fashion_clips(params))
    input_checks.check_input_path(params)
    return super().build_inputs(params, input_context)
