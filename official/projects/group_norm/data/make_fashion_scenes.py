r"""Scenes of real objects for detection and instance segmentation, in COCO.

  python -m official.projects.group_norm.data.make_fashion_scenes \
      --output_dir=/tmp/fashion_scenes --num_train=2000 --num_val=1000

Each image holds `min_items` to `max_items` Fashion-MNIST items (10 classes:
the categories), each scaled to its own size (`scale` of the image's side),
tinted to stand out from the background under it (`make_fashion_mnist`'s
rule) and laid at a random place over one of the shape maker's backgrounds
(a crop of one of scikit-learn's two photographs, or a noisy flat colour),
with its grey value as opacity. Items may overlap: they are laid one after
another, and an item's mask is its own pixels (grey value at least
`MASK_LEVEL`) less those of the items laid over it; its box is its mask's.
An item left with less than `MIN_VISIBLE` of its pixels is dropped (its
pixels stay in the image: clutter, as in real photographs). Training images
use the training split's items, validation images the test split's (found by
`fashion_mnist.find_files`; nothing downloads unless every other route
fails).

Written as `make_shapes` writes its splits: `<split>/images/*.jpg`,
`<split>/instances.json` (COCO; each mask one uncompressed run-length
encoding in a list) and
`<split>-00000-of-00001.tfrecord` (Model Garden's detection format, through
its own COCO converter), so the Mask R-CNN task and its COCO evaluation read
it as they read the shapes. The same arguments give byte-identical files.
"""

from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
from PIL import Image
from pycocotools import mask as mask_api

from official.projects.group_norm.data import cli
from official.projects.group_norm.data import fashion_mnist
from official.projects.group_norm.data import make_fashion_mnist
from official.projects.group_norm.data import make_shapes
from official.projects.group_norm.data import records

CATEGORIES = tuple({'id': i + 1, 'name': name} for i, name in enumerate((
    'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt',
    'Sneaker', 'Bag', 'Ankle boot')))
MASK_LEVEL = 64  # Of 255: an item's pixel belongs to its mask from here.
MIN_VISIBLE = 0.3  # An item keeps an annotation if this much of it shows.


def make_image(rng: np.random.Generator, size: int, items, labels,
               photographs, min_items: int = 2, max_items: int = 8,
               scale: Tuple[float, float] = (0.25, 0.5)
               ) -> Tuple[np.ndarray, List[Tuple[int, np.ndarray]]]:
  """One scene: (uint8 [size, size, 3], [(category id, bool mask)]).

  Args:
    rng: The generator every random choice comes from.
    size: Side of the square image.
    items: uint8 [n, 28, 28] Fashion-MNIST items to draw from.
    labels: Their classes (0-9).
    photographs: `make_shapes.load_photographs()`.
    min_items: Fewest items laid.
    max_items: Most items laid.
    scale: Range of an item's side, as fractions of `size`.
  """
  image = make_shapes.background(rng, size, photographs).astype(np.float32)
  laid = []  # (class, full mask) in the order laid.
  for _ in range(int(rng.integers(min_items, max_items + 1))):
    index = int(rng.integers(len(items)))
    side = int(round(rng.uniform(*scale) * size))
    grey = np.asarray(Image.fromarray(items[index]).resize(
        (side, side), Image.BILINEAR))
    top, left = (int(v) for v in rng.integers(size - side + 1, size=2))
    region = (slice(top, top + side), slice(left, left + side))
    tint = make_fashion_mnist.standing_out(
        rng, image[region].reshape(-1, 3).mean(axis=0))
    alpha = grey.astype(np.float32)[..., None] / 255
    image[region] = image[region] + alpha * (tint - image[region])
    full = np.zeros((size, size), bool)
    full[region] = grey >= MASK_LEVEL
    laid.append((int(labels[index]), full))
  annotated = []
  covered = np.zeros((size, size), bool)
  for label, full in reversed(laid):  # From the top item down.
    visible = full & ~covered
    covered |= full
    if full.any() and visible.sum() >= MIN_VISIBLE * full.sum():
      annotated.append((label + 1, visible))
  return np.round(image).astype(np.uint8), annotated[::-1]


def uncompressed_rle(mask: np.ndarray) -> Dict:
  """COCO's uncompressed run-length encoding of a bool mask (column-major)."""
  flat = mask.flatten(order='F').astype(np.uint8)
  bounds = np.concatenate([[0], np.flatnonzero(np.diff(flat)) + 1,
                           [flat.size]])
  counts = np.diff(bounds).tolist()
  if flat[0]:  # Runs start with zeros.
    counts = [0] + counts
  return {'size': list(mask.shape), 'counts': counts}


def _annotation(mask: np.ndarray, image_id: int, annotation_id: int,
                category_id: int) -> Dict:
  # A list of one uncompressed RLE: Model Garden's COCO converter reads a
  # non-crowd segmentation as a list (of polygons or RLEs), and pycocotools
  # merges it; an occluded item's mask may have holes and pieces.
  rle = mask_api.encode(np.asfortranarray(mask.astype(np.uint8)))
  x, y, width, height = (float(v) for v in mask_api.toBbox(rle))
  return {'id': annotation_id, 'image_id': image_id,
          'category_id': category_id, 'iscrowd': 0,
          'segmentation': [uncompressed_rle(mask)],
          'area': float(mask_api.area(rle)), 'bbox': [x, y, width, height]}


def write_split(output_dir: str, split: str, num_images: int, image_size: int,
                items, labels, seed: int, **scene_kwargs) -> Dict:
  """Writes one split's images, COCO JSON and TFRecord; returns the JSON."""
  return make_shapes.write_scenes(
      output_dir, split, num_images, image_size, seed, CATEGORIES,
      lambda rng, photographs: make_image(rng, image_size, items, labels,
                                          photographs, **scene_kwargs),
      _annotation)


def make_fashion_scenes(output_dir: str, num_train: int = 2000,
                        num_val: int = 1000, image_size: int = 128,
                        min_items: int = 2, max_items: int = 8,
                        scale: Tuple[float, float] = (0.25, 0.5),
                        seed: int = 0,
                        fashion_mnist_dir: Optional[str] = None,
                        log: Callable[[str], None] = print,
                        **load_kwargs) -> Dict[str, str]:
  """Writes the train and val splits; returns {split: tfrecord path}.

  The settings they were made with go to `records.SETTINGS_FILE` beside
  them, for `records.check_settings`.

  Args:
    output_dir: Folder of the splits.
    num_train: Training images (items from the training split).
    num_val: Validation images (items from the test split).
    image_size: Side of the square images, at least 64.
    min_items: Fewest items an image, at least 1.
    max_items: Most items an image, at least `min_items`.
    scale: Range of an item's side as fractions of the image's, within
      (0, 1].
    seed: Seed of the training split (validation: seed + 1).
    fashion_mnist_dir: A folder holding the four files (the explicit route).
    log: Receives the route taken and the splits written.
    **load_kwargs: Further `fashion_mnist.load` arguments (tests).

  Raises:
    ValueError: for bad sizes or counts (before anything is read or written).
  """
  if image_size < 64:
    raise ValueError(f'image_size={image_size} is too small; use >= 64.')
  if not 1 <= min_items <= max_items:
    raise ValueError(f'Need 1 <= min_items <= max_items; received '
                     f'{min_items} and {max_items}.')
  if not 0 < scale[0] <= scale[1] <= 1:
    raise ValueError(f'scale must be within (0, 1], low <= high; received '
                     f'{scale}.')
  records.check_counts(num_train, num_val)
  x_train, y_train, x_test, y_test = fashion_mnist.load(
      fashion_mnist_dir, log=log, **load_kwargs)
  scene = dict(min_items=min_items, max_items=max_items, scale=tuple(scale))
  paths = {}
  for split, count, items, labels, split_seed in (
      ('train', num_train, x_train, y_train, seed),
      ('val', num_val, x_test, y_test, seed + 1)):
    coco = write_split(output_dir, split, count, image_size, items, labels,
                       split_seed, **scene)
    paths[split] = make_shapes.tfrecord_path(output_dir, split)
    log(f'Wrote {count} Fashion-MNIST scenes ({len(coco["annotations"])} '
        f'instances) to {paths[split]}')
  records.write_settings(output_dir, dict(
      num_train=num_train, num_val=num_val, image_size=image_size, seed=seed,
      **scene))
  return paths


if __name__ == '__main__':
  cli.run(make_fashion_scenes)
