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

from typing import Dict, Tuple

import numpy as np

from official.projects.group_norm.data import cli
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

  Args:
    output_dir: Folder for the TFRecords.
    num_train: Training images.
    num_val: Validation images.
    image_size: Side of the square images.
    max_count: Most shapes in an image (1..4).
    seed: Seed of the training split (validation: seed + 1).

  Raises:
    ValueError: for an image too small to hold the shapes, or no images.
  """
  if image_size < 32:
    raise ValueError(f'image_size={image_size} is too small; use >= 32.')
  if num_train < 1 or num_val < 1 or not 1 <= max_count <= 4:
    raise ValueError(f'num_train={num_train} and num_val={num_val} must be '
                     f'>= 1 and max_count={max_count} in 1..4 (more shapes '
                     'do not reliably fit).')
  return records.write_splits(
      output_dir, num_train, num_val, seed,
      lambda _, count, split_seed: (
          records.classification_example(image, label)
          for image, label in _images(count, image_size, max_count,
                                      split_seed)))


if __name__ == '__main__':
  cli.run(make_shapes_classification)
