r"""Writes Fashion-MNIST as Model Garden classification TFRecords.

  python -m official.projects.group_norm.data.make_fashion_mnist \
      --output_dir=DIR [--style=photos] [--fashion_mnist_dir=FOLDER]

The four files come from `fashion_mnist.find_files` (a given folder, Keras'
cache, Debian's package; never a download unless every other route fails).
Training examples are a fixed, class-balanced subset of the 60,000
(`train_per_class` of each class, drawn with `seed`); validation examples are
the whole 10,000-image test split, in order. Styles:
- 'plain': the grey item, centred on black at `image_size`, over RGB;
- 'photos': real objects over real photographs, each image its own: the
  shape maker's background (half of them a random crop of one of
  scikit-learn's two sample photographs, half a noisy flat colour) and the
  item, scaled to 75-100% of the side, tinted in a colour that stands out
  from it and laid over it with its own grey value as opacity, at a random
  place (`compose`).
  The images' statistics then differ as photographs' do, which BatchNorm's
  statistics over a few images misjudge (on plain Fashion-MNIST, studio shots
  on black, they barely do).
Deterministic: the same arguments give the same files.
"""

import os
from typing import Callable, Dict, List, Optional

from absl import app
from absl import flags
import numpy as np
from PIL import Image

from official.projects.group_norm.data import fashion_mnist
from official.projects.group_norm.data import make_shapes
from official.projects.group_norm.data import records

STYLES = ('plain', 'photos')
TRAIN_PER_CLASS = 1000  # A 10,000-image balanced training subset.
MIN_ITEM_FRACTION = 0.75  # An item spans 75-100% of the image's side.
# The tint differs from the background's mean colour by at least this much
# on average over RGB (0-255), so that no item fades into its background.
MIN_CONTRAST = 80


def balanced_subset(labels: np.ndarray, per_class: int,
                    seed: int) -> np.ndarray:
  """Indices of `per_class` examples of each class, in a seeded order.

  Raises:
    ValueError: if a class has fewer than `per_class` examples.
  """
  order = np.random.default_rng(seed).permutation(len(labels))
  picked = []
  for label in np.unique(labels):
    of_class = order[labels[order] == label]
    if len(of_class) < per_class:
      raise ValueError(f'Class {label} has {len(of_class)} examples; '
                       f'{per_class} asked for.')
    picked.append(of_class[:per_class])
  return np.sort(np.concatenate(picked))


def plain(item: np.ndarray, image_size: int) -> np.ndarray:
  """The grey 28 x 28 item centred on black, [image_size]^2 x 3 uint8."""
  pad = image_size - item.shape[0]
  before = pad // 2
  image = np.pad(item, ((before, pad - before), (before, pad - before)))
  return np.repeat(image[..., None], 3, axis=-1)


def compose(item: np.ndarray, image_size: int, rng: np.random.Generator,
            photographs: List[np.ndarray]) -> np.ndarray:
  """The item tinted and laid over a crop of a photograph, uint8 RGB.

  The item is resized to a side of MIN_ITEM_FRACTION..1 x `image_size`,
  placed at a random position inside the image, tinted with a random colour
  (each channel 0-255; where it lies within MIN_CONTRAST of the
  background's mean colour, its complement 255 - tint, or else white or
  black, whichever is farther) and blended
  with its grey value as opacity: white parts of the item cover the
  background, black parts let it show.
  """
  image = make_shapes.background(rng, image_size, photographs).astype(
      np.float32)
  side = int(rng.integers(round(MIN_ITEM_FRACTION * image_size),
                          image_size + 1))
  resized = Image.fromarray(item).resize((side, side), Image.BILINEAR)
  alpha = np.asarray(resized, np.float32)[..., None] / 255
  top, left = rng.integers(image_size - side + 1, size=2)
  tint = standing_out(rng, image.mean(axis=(0, 1)))
  patch = image[top:top + side, left:left + side]
  image[top:top + side, left:left + side] = patch + alpha * (tint - patch)
  return np.round(image).astype(np.uint8)


def standing_out(rng: np.random.Generator, mean: np.ndarray) -> np.ndarray:
  """A random tint at least MIN_CONTRAST from `mean` (RGB float32).

  Each channel 0-255; where it lies within MIN_CONTRAST of the background's
  mean colour, its complement 255 - tint, or else white or black, whichever
  is farther.
  """
  tint = rng.integers(0, 256, size=3).astype(np.float32)
  contrast = lambda colour: np.abs(colour - mean).mean()  # noqa: E731
  if contrast(tint) < MIN_CONTRAST:
    tint = 255 - tint
  if contrast(tint) < MIN_CONTRAST:  # A mid-grey background: white or black.
    tint = np.full(3, 255.0 if mean.mean() < 128 else 0.0, np.float32)
  return tint


def make_fashion_mnist(output_dir: str, style: str = 'photos',
                       image_size: int = 32,
                       train_per_class: int = TRAIN_PER_CLASS, seed: int = 0,
                       fashion_mnist_dir: Optional[str] = None,
                       log: Callable[[str], None] = print,
                       **load_kwargs) -> Dict[str, str]:
  """Writes train/validation TFRecords into `output_dir`; returns their paths.

  Files are written under temporary names and renamed
  (`records.write_records`): nothing half-written is left behind.

  Args:
    output_dir: Folder of the two files.
    style: One of STYLES.
    image_size: Side of the images, at least 28.
    train_per_class: Training examples of each class (at most 6000).
    seed: Seed of the training subset and of the 'photos' composition.
    fashion_mnist_dir: A folder holding the four files (the explicit route).
    log: Receives the route taken and the files written.
    **load_kwargs: Further `fashion_mnist.load` arguments (tests: routes,
      hashes, counts).

  Raises:
    ValueError: bad arguments or files; fashion_mnist.NotFoundError when no
      route has the files.
  """
  if style not in STYLES:
    raise ValueError(f'Unknown style {style!r}; choose from {STYLES}.')
  if image_size < fashion_mnist.IMAGE_SHAPE[0]:
    raise ValueError(f'image_size must be at least 28 (the items are 28 x '
                     f'28); received {image_size}.')
  if train_per_class < 1:
    raise ValueError(f'train_per_class must be >= 1; received '
                     f'{train_per_class}.')
  x_train, y_train, x_test, y_test = fashion_mnist.load(
      fashion_mnist_dir, log=log, **load_kwargs)
  subset = balanced_subset(y_train, train_per_class, seed)
  photographs = make_shapes.load_photographs() if style == 'photos' else None
  os.makedirs(output_dir, exist_ok=True)
  paths = {}
  for split, (name, items, labels) in enumerate((
      (records.TRAIN_FILE, x_train[subset], y_train[subset]),
      (records.VALIDATION_FILE, x_test, y_test))):
    rng = np.random.default_rng([seed, split])  # Splits drawn apart.
    if style == 'plain':
      images = (plain(item, image_size) for item in items)
    else:
      images = (compose(item, image_size, rng, photographs) for item in items)
    path = os.path.join(output_dir, name)
    records.write_records(path, (
        records.classification_example(image, label)
        for image, label in zip(images, labels)))
    paths[name] = path
    log(f'Wrote {len(labels)} Fashion-MNIST images ({style}) to {path}')
  return paths


def main(_):
  """Writes the TFRecords to --output_dir."""
  make_fashion_mnist(FLAGS.output_dir, FLAGS.style, FLAGS.image_size,
                     FLAGS.train_per_class, FLAGS.seed,
                     FLAGS.fashion_mnist_dir)


FLAGS = flags.FLAGS

if __name__ == '__main__':
  flags.DEFINE_string('output_dir', None, 'Folder for the TFRecords.')
  flags.DEFINE_enum('style', 'photos', STYLES, 'plain: grey items on black; '
                    'photos: tinted items over crops of photographs.')
  flags.DEFINE_integer('image_size', 32, 'Side of the written images.')
  flags.DEFINE_integer('train_per_class', TRAIN_PER_CLASS,
                       'Training images of each class (of 6000).')
  flags.DEFINE_integer('seed', 0, 'Seed of the subset and the composition.')
  flags.DEFINE_string('fashion_mnist_dir', None,
                      'A folder holding the four Fashion-MNIST files (else '
                      f'${fashion_mnist.ENV_DIR}, Keras\' cache, Debian\'s '
                      'package).')
  flags.mark_flag_as_required('output_dir')
  app.run(main)
