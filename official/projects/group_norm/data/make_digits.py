r"""Writes scikit-learn's digits as Model Garden classification TFRecords.

Each example holds `image/encoded` (a PNG, the 8x8 digit upscaled to 32x32,
or `--image_size`, and repeated over RGB, or painted in colours of its own
with `--style=colour`) and `image/class/label`, the keys Model Garden's
classification decoder reads. The 80/20 train/validation split is
deterministic (gn_keras.datasets.load_digits, which the demo uses too).

  python -m official.projects.group_norm.data.make_digits --output_dir=DIR
"""

import os
from typing import Optional

from absl import app
from absl import flags
from absl import logging
import numpy as np

from gn_keras import datasets
from official.projects.group_norm.data import records

STYLES = ('plain', 'colour')


def _to_rgb_uint8(images: np.ndarray, image_size: int, style: str = 'plain',
                  rng: Optional[np.random.Generator] = None) -> np.ndarray:
  """[N, 8, 8, 1] floats in [0, 1] -> [N, S, S, 3] uint8, nearest upscaling.

  'plain' keeps the white digit on black; 'colour' paints each image's
  background and digit in colours of its own (drawn from `rng`), at least 0.3
  apart on average over RGB, so that the images' statistics differ as
  photographs' do: what batch statistics over a few images misjudge.
  """
  factor = image_size // images.shape[1]
  big = images.repeat(factor, axis=1).repeat(factor, axis=2)
  if style == 'plain':
    return np.repeat(np.round(big * 255).astype(np.uint8), 3, axis=-1)
  background = rng.uniform(size=(len(images), 1, 1, 3))
  digit = rng.uniform(size=(len(images), 1, 1, 3))
  too_close = np.abs(digit - background).mean(-1, keepdims=True) < 0.3
  digit = np.where(too_close, 1 - background, digit)
  return np.round(255 * (background + (digit - background) * big)).astype(
      np.uint8)


def make_digits(output_dir: str, image_size: int = 32, seed: int = 0,
                style: str = 'plain') -> dict:
  """Writes train/validation TFRecords into `output_dir`; returns their paths.

  Files are written under temporary names and renamed (`records.write_records`).

  Args:
    output_dir: Folder of the two files.
    image_size: Side of the images, a multiple of 8.
    seed: Seed of the split (and of the colours).
    style: 'plain' (white on black) or 'colour' (see `_to_rgb_uint8`).
  """
  if image_size % 8:
    raise ValueError(f'image_size must be a multiple of 8 (the digits are '
                     f'8x8); received {image_size}.')
  if style not in STYLES:
    raise ValueError(f'Unknown style {style!r}; choose from {STYLES}.')
  rng = np.random.default_rng(seed)
  os.makedirs(output_dir, exist_ok=True)
  x_train, y_train, x_val, y_val = datasets.load_digits(seed)
  paths = {}
  for name, images, labels in ((records.TRAIN_FILE, x_train, y_train),
                               (records.VALIDATION_FILE, x_val, y_val)):
    path = os.path.join(output_dir, name)
    records.write_records(path, (
        records.classification_example(image, label)
        for image, label in zip(
            _to_rgb_uint8(images, image_size, style, rng), labels)))
    paths[name] = path
    logging.info('Wrote %d digits to %s', len(labels), path)
  return paths


def main(_):
  """Writes the TFRecords to --output_dir."""
  paths = make_digits(flags.FLAGS.output_dir, flags.FLAGS.image_size,
                      flags.FLAGS.seed, flags.FLAGS.style)
  for path in paths.values():
    print(path)


if __name__ == '__main__':
  flags.DEFINE_string('output_dir', None, 'Folder for the TFRecords.')
  flags.DEFINE_integer('image_size', 32, 'Side of the written images.')
  flags.DEFINE_integer('seed', 0, 'Seed of the train/validation split.')
  flags.DEFINE_enum('style', 'plain', STYLES, 'plain: white digits on black; '
                    'colour: each image in colours of its own.')
  flags.mark_flag_as_required('output_dir')
  app.run(main)
