"""TFRecord helpers every data maker shares: examples and atomic writes."""

import json
import os
import tempfile
from typing import Any, Callable, Dict, Iterable, Mapping

import numpy as np
import tensorflow as tf

TRAIN_FILE = 'train.tfrecord'
VALIDATION_FILE = 'validation.tfrecord'
SETTINGS_FILE = 'maker_settings.json'


def classification_example(image: np.ndarray, label: int) -> bytes:
  """A Model Garden classification example: a PNG and its label."""
  png = tf.io.encode_png(tf.constant(image)).numpy()
  feature = {
      'image/encoded': tf.train.Feature(bytes_list=tf.train.BytesList(
          value=[png])),
      'image/format': tf.train.Feature(bytes_list=tf.train.BytesList(
          value=[b'png'])),
      'image/class/label': tf.train.Feature(int64_list=tf.train.Int64List(
          value=[int(label)])),
  }
  return tf.train.Example(features=tf.train.Features(
      feature=feature)).SerializeToString()


def write_records(path: str, records) -> None:
  """Writes serialized examples to `path` under a temporary name, renamed.

  A reader never sees a half-written file and an interrupted run leaves
  nothing behind.
  """
  output_dir = os.path.dirname(path) or '.'
  fd, tmp = tempfile.mkstemp(dir=output_dir,
                             prefix=f'.{os.path.basename(path)}.')
  os.close(fd)
  try:
    with tf.io.TFRecordWriter(tmp) as writer:
      for record in records:
        writer.write(record)
    umask = os.umask(0)  # mkstemp makes 0600; give the usual permissions.
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def check_counts(num_train: int, num_val: int) -> None:
  """Raises a ValueError unless both splits get at least one example."""
  if num_train < 1 or num_val < 1:
    raise ValueError(f'num_train={num_train} and num_val={num_val} must be '
                     '>= 1.')


def write_splits(output_dir: str, num_train: int, num_val: int, seed: int,
                 examples: Callable[[bool, int, int], Iterable[bytes]]
                 ) -> Dict[str, str]:
  """Writes TRAIN_FILE and VALIDATION_FILE; returns {file name: path}.

  Args:
    output_dir: Their folder (made if missing).
    num_train: Training examples.
    num_val: Validation examples.
    seed: The training split's seed; the validation split's is seed + 1.
    examples: (is_training, count, seed) -> that split's serialized
      examples.
  """
  os.makedirs(output_dir, exist_ok=True)
  paths = {}
  for name, is_training, count, split_seed in (
      (TRAIN_FILE, True, num_train, seed),
      (VALIDATION_FILE, False, num_val, seed + 1)):
    paths[name] = os.path.join(output_dir, name)
    write_records(paths[name], examples(is_training, count, split_seed))
  return paths


def _as_json(settings: Mapping[str, Any]) -> Dict[str, Any]:
  return json.loads(json.dumps(dict(settings)))  # Tuples read back as lists.


def write_settings(output_dir: str, settings: Mapping[str, Any]) -> None:
  """Records what a maker made `output_dir`'s data with (`check_settings`)."""
  path = os.path.join(output_dir, SETTINGS_FILE)
  with open(path + '.tmp', 'w') as f:
    json.dump(_as_json(settings), f, indent=1, sort_keys=True)
  os.replace(path + '.tmp', path)


def check_settings(output_dir: str, settings: Mapping[str, Any]) -> None:
  """Raises unless `output_dir`'s data was made with these `settings`.

  An experiment that asks for other scenes or clips than a folder holds
  would otherwise train on the old ones without a word. Only the keys given
  are compared; a folder without a settings file (made by hand, or before
  makers recorded them) passes.

  Raises:
    ValueError: naming each setting that differs.
  """
  path = os.path.join(output_dir, SETTINGS_FILE)
  if not os.path.exists(path):
    return
  with open(path) as f:
    recorded = json.load(f)
  wanted = _as_json(settings)
  differ = {k: (recorded.get(k), v) for k, v in sorted(wanted.items())
            if recorded.get(k) != v}
  if differ:
    raise ValueError(
        f'{output_dir} holds data made with other settings '
        f'(setting: (recorded, asked)) {differ}. Point the input paths at '
        'another folder, or delete this one to remake it.')
