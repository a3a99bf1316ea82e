r"""Synthetic shapes for image classification: which shape, and how many.

  python -m official.projects.group_norm.data.make_shapes_classification \
      --output_dir=/tmp/shapes_cls --num_train=6000 --num_val=1200 \
      --image_size=64

Images come from the detection set's maker (`make_shapes.make_image`): the
same backgrounds (noisy flat colours, crops of scikit-learn's two
photographs), sizes, colours and rotations, so a backbone pretrained here has
seen the detection task's domain. Every shape in an image is of one kind;
the class is (kind, count): circle, square or triangle, 1 to `max_count`
times, `3 * max_count` classes, label `(kind - 1) * max_count + count - 1`.
Classes take turns, so each split is balanced. Written as Model Garden
classification TFRecords (`image/encoded` PNG, `image/class/label`):
`train.tfrecord` and `validation.tfrecord`. Deterministic: the same seed gives
byte-identical files. Nothing downloads.
"""

import os
from typing import Dict, Tuple

from absl import app
from absl import flags
import numpy as np

from official.projects.group_norm.data import make_shapes
from official.projects.group_norm.data import records

TRAIN_FILE = records.TRAIN_FILE
VALIDATION_FILE = records.VALIDATION_FILE


def num_classes(max_count: int) -> int:
  """Classes for shapes of 3 kinds, 1 to `max_count` of them."""
  return len(make_shapes.CATEGORIES) * max_count


def class_of(label: int, max_count: int) -> Tuple[str, int]:
  """(kind name, count) of a label."""
  kind, count = divmod(label, max_count)
  return make_shapes.CATEGORIES[kind]['name'], count + 1


def _images(num_images: int, image_size: int, max_count: int, seed: int):
  """Yields (image, label), classes in turn; redraws until all shapes fit."""
  rng = np.random.default_rng(seed)
  photographs = make_shapes.load_photographs()
  for i in range(num_images):
    label = i % num_classes(max_count)
    kind, count = divmod(label, max_count)
    while True:
      image, shapes = make_shapes.make_image(
          rng, image_size, max_count, photographs, kind=kind + 1,
          count=count + 1)
      if len(shapes) == count + 1:
        break
    yield image, label


def make_shapes_classification(output_dir: str, num_train: int = 6000,
                               num_val: int = 1200, image_size: int = 64,
                               max_count: int = 4,
                               seed: int = 0) -> Dict[str, str]:
  """Writes the train and validation TFRecords; returns {file name: path}.

  Raises:
    ValueError: for an image too small to hold the shapes, or no images.
  """
  if image_size < 32:
    raise ValueError(f'image_size={image_size} is too small; use >= 32.')
  if num_train < 1 or num_val < 1 or not 1 <= max_count <= 4:
    raise ValueError(f'num_train={num_train} and num_val={num_val} must be '
                     f'>= 1 and max_count={max_count} in 1..4 (more shapes '
                     'do not reliably fit).')
  os.makedirs(output_dir, exist_ok=True)
  paths = {}
  for name, count, split_seed in ((TRAIN_FILE, num_train, seed),
                                  (VALIDATION_FILE, num_val, seed + 1)):
    path = os.path.join(output_dir, name)
    records.write_records(path, (
        records.classification_example(image, label)
        for image, label in _images(count, image_size, max_count,
                                    split_seed)))
    paths[name] = path
  return paths


def main(_):
  """Writes the data set to --output_dir."""
  paths = make_shapes_classification(
      FLAGS.output_dir, FLAGS.num_train, FLAGS.num_val, FLAGS.image_size,
      FLAGS.max_count, FLAGS.seed)
  for path in paths.values():
    print(path, flush=True)


FLAGS = flags.FLAGS

if __name__ == '__main__':
  flags.DEFINE_string('output_dir', None, 'Folder for the TFRecords.')
  flags.DEFINE_integer('num_train', 6000, 'Training images.')
  flags.DEFINE_integer('num_val', 1200, 'Validation images.')
  flags.DEFINE_integer('image_size', 64, 'Side of the square images.')
  flags.DEFINE_integer('max_count', 4, 'Most shapes in an image (1..4).')
  flags.DEFINE_integer('seed', 0, 'Seed of the training split (validation: '
                       'seed + 1).')
  flags.mark_flag_as_required('output_dir')
  app.run(main)
