r"""Exports a ResNet-GN classifier, Mask R-CNN-GN or I3D-GN as a SavedModel.

  python -m official.projects.group_norm.export_saved_model \
      --experiment=resnet_gn_digits --checkpoint_path=/tmp/gn_digits \
      --export_dir=/tmp/gn_digits/export

Builds the serving model from the experiment (plus `--config_file` /
`--params_override`, e.g. the run's `params.yaml`), restores
`--checkpoint_path` (a checkpoint or a model_dir: its latest checkpoint), and
writes `export_dir/saved_model` with a `serving_default` signature taking an
`image_tensor` uint8 batch `[N, H, W, 3]` (a video model: clips `[N, T, H, W,
3]` of frames x temporal stride frames). A classifier (image or video)
returns logits and probabilities; a Mask R-CNN returns Model Garden's
detection outputs (`detection_boxes` in pixels, `detection_classes`,
`detection_scores`, `num_detections`, `detection_masks` per box,
`image_info`).
`--input_type=tflite` (classifiers) takes float32 images already normalized
as Model Garden's preprocessing does instead: the SavedModel that
`export_tflite` converts. Refuses to overwrite an existing export. Model
Garden's full log goes to `export_dir/export.log` (`--alsologtostderr` shows
it on the terminal too).
"""

import os

from absl import app
from absl import flags
import tensorflow as tf

from gn_keras import ops as gn_ops
from official.modeling import hyperparams
from official.projects.group_norm import registry_imports  # noqa: F401 (registers the experiments)
from official.projects.group_norm import script_logs
from official.projects.group_norm.configs import common
from official.projects.group_norm.configs import maskrcnn as maskrcnn_cfg
from official.projects.group_norm.configs import video_classification as vcfg
from official.projects.group_norm.serving import detection
from official.projects.group_norm.serving import image_classification
from official.projects.group_norm.serving import video_classification
from official.vision.serving import export_saved_model_lib

FLAGS = flags.FLAGS


INPUT_TYPES = ('image_tensor', 'tflite')


def export(params, checkpoint_path: str, export_dir: str,
           batch_size=None, input_type: str = 'image_tensor') -> str:
  """Exports the model of `params` from `checkpoint_path`; returns its path.

  Args:
    params: The experiment config.
    checkpoint_path: A checkpoint, or a model_dir (its latest checkpoint).
    export_dir: The export goes to `export_dir/saved_model`.
    batch_size: A fixed serving batch, or None.
    input_type: 'image_tensor' (uint8 images, preprocessed inside) or, for
      classifiers, 'tflite' (float32 images already normalized as Model
      Garden's preprocessing does: what `export_tflite` converts).

  Raises:
    ValueError: for an export folder that holds a SavedModel, no checkpoint,
      or an input type the model cannot take.
  """
  if input_type not in INPUT_TYPES:
    raise ValueError(f'--input_type={input_type!r}; choose from '
                     f'{list(INPUT_TYPES)}.')
  saved_model_dir = os.path.join(export_dir, 'saved_model')
  if tf.io.gfile.exists(os.path.join(saved_model_dir, 'saved_model.pb')):
    raise ValueError(f'{saved_model_dir} already holds a SavedModel; choose '
                     'a new --export_dir.')
  if tf.io.gfile.isdir(checkpoint_path):
    latest = tf.train.latest_checkpoint(checkpoint_path)
    if latest is None:
      raise ValueError(f'No checkpoint in {checkpoint_path}.')
    checkpoint_path = latest
  if isinstance(params.task, vcfg.VideoClassificationTask):
    if input_type != 'image_tensor':
      raise ValueError('Video exports take --input_type=image_tensor only; '
                       f'received {input_type!r}.')
    # Clips of frames x temporal stride frames, as the evaluation reads them.
    data = params.task.validation_data
    image_size = [data.feature_shape[0] * data.temporal_stride,
                  *data.feature_shape[1:3]]
    module_cls = video_classification.VideoClassificationModule
  elif isinstance(params.task, maskrcnn_cfg.MaskRCNNTask):
    if input_type != 'image_tensor':
      raise ValueError('Mask R-CNN exports take --input_type=image_tensor '
                       f'only; received {input_type!r}.')
    image_size = list(params.task.model.input_size[:2])
    module_cls = detection.DetectionModule
  else:
    image_size = list(params.task.model.input_size[:2])
    module_cls = image_classification.ClassificationModule
  module = module_cls(
      params=params, batch_size=batch_size, input_image_size=image_size,
      input_type=input_type, num_channels=3)
  # Model Garden traces the serving functions before saving them.
  with gn_ops.for_export():
    export_saved_model_lib.export_inference_graph(
        input_type=input_type, batch_size=batch_size,
        input_image_size=image_size, params=params,
        checkpoint_path=checkpoint_path, export_dir=export_dir,
        export_module=module, export_saved_model_subdir='saved_model')
  return saved_model_dir


def main(_):
  """Exports the model of the flags' config and checkpoint."""
  params = common.get_exp_config(FLAGS.experiment)
  for config_file in FLAGS.config_file or []:
    params = hyperparams.override_params_dict(params, config_file,
                                              is_strict=True)
  if FLAGS.params_override:
    params = hyperparams.override_params_dict(params, FLAGS.params_override,
                                              is_strict=True)
  params.validate()
  params.lock()
  local = script_logs.is_local(FLAGS.export_dir)
  log_file = (os.path.join(FLAGS.export_dir, 'export.log')
              if local and not FLAGS.logtostderr else None)
  with script_logs.terminal_and_log(log_file) as show:
    path = export(params, FLAGS.checkpoint_path, FLAGS.export_dir,
                  FLAGS.batch_size, FLAGS.input_type)
    show(f'Exported SavedModel: {path}')


if __name__ == '__main__':
  flags.DEFINE_string('experiment', None, 'A registered experiment name.')
  flags.DEFINE_multi_string('config_file', None, 'YAML files of overrides, '
                            'e.g. the params.yaml of a training run.')
  flags.DEFINE_string('params_override', '', 'Overrides, e.g. "a.b=1,c=2".')
  flags.DEFINE_string('checkpoint_path', None, 'Checkpoint, or a model_dir.')
  flags.DEFINE_string('export_dir', None, 'Where to write the export.')
  flags.DEFINE_integer('batch_size', None, 'Fixed serving batch (or None).')
  flags.DEFINE_enum('input_type', 'image_tensor', list(INPUT_TYPES),
                    'image_tensor: uint8 images, preprocessed inside; tflite '
                    '(classifiers): float32 normalized images, the input '
                    'export_tflite converts.')
  flags.mark_flags_as_required(['experiment', 'checkpoint_path', 'export_dir'])
  app.run(main)
