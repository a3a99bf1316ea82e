"""Clear errors for data configs and init checkpoints that point at nothing.

Both run before any training.
"""

import tensorflow as tf


def check_input_path(data_config) -> None:
  """Raises if `data_config.input_path` names no file or only empty ones.

  Model Garden would otherwise fail later with a message that does not name
  the config key (or, for empty files, wait for examples that never come).

  Args:
    data_config: a Model Garden `DataConfig` (TFDS configs are not checked).

  Raises:
    ValueError: naming the config key and the path.
  """
  if data_config.tfds_name:
    return
  key = ('task.train_data.input_path' if data_config.is_training else
         'task.validation_data.input_path')
  path = data_config.input_path
  patterns = ([p for p in path.split(',') if p.strip()]
              if isinstance(path, str) else list(path or []))
  if not patterns:
    raise ValueError(f'{key} is empty: point it at the TFRecord files, e.g. '
                     f'--params_override={key}=/data/train*.tfrecord')
  files = [f for p in patterns for f in tf.io.gfile.glob(p.strip())]
  if not files:
    raise ValueError(f'{key}={path!r} matches no file.')
  if all(tf.io.gfile.stat(f).length == 0 for f in files):
    raise ValueError(f'{key}={path!r}: all {len(files)} matching file(s) '
                     'are empty.')


def check_init_checkpoint(path: str) -> None:
  """Raises unless `path` (`task.init_checkpoint`) is empty or a checkpoint.

  A folder holding a checkpoint counts as its latest one. Model Garden's
  initialisation would otherwise fail with a message that does not name the
  config key.

  Raises:
    ValueError: naming the config key and the path.
  """
  if not path:
    return
  if tf.io.gfile.isdir(path):
    found = tf.train.latest_checkpoint(path) is not None
  else:
    found = tf.io.gfile.exists(path + '.index')
  if not found:
    raise ValueError(
        f'task.init_checkpoint={path!r} is neither a checkpoint nor a '
        'folder holding one (e.g. the model_dir of a resnet50_gn_imagenet '
        'run); set it, or to "" to train from scratch.')
