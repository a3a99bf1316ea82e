r"""Synthetic shapes for detection and instance segmentation, in COCO format.

  python -m official.projects.group_norm.data.make_shapes \
      --output_dir=/tmp/shapes --num_train=2000 --num_val=200 --image_size=128

Each image holds 1 to `max_shapes` circles, squares and triangles of random
size, colour, rotation and position, that do not overlap (so every polygon is
the visible mask), over a noisy flat background or a random crop of one of the
two photographs scikit-learn ships. For each split it writes

  <split>/images/*.jpg
  <split>/instances.json           COCO: images, annotations (polygon masks,
                                   boxes, areas), categories
  <split>-00000-of-00001.tfrecord  Model Garden's detection format, written by
                                   Model Garden's own COCO converter

Deterministic: the same seed gives byte-identical files. Nothing downloads.
"""

import json
import os
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
from PIL import Image
from PIL import ImageDraw
from pycocotools import mask as mask_api

from official.projects.group_norm.data import cli

CATEGORIES = ({'id': 1, 'name': 'circle'}, {'id': 2, 'name': 'square'},
              {'id': 3, 'name': 'triangle'})
_VERTICES = {'circle': 24, 'square': 4, 'triangle': 3}


def tfrecord_path(output_dir: str, split: str) -> str:
  """The TFRecord file a split is written to (Model Garden's shard naming)."""
  return os.path.join(output_dir, f'{split}-00000-of-00001.tfrecord')


def load_photographs() -> List[np.ndarray]:
  """scikit-learn's two sample photographs, the backgrounds' sources."""
  from sklearn import datasets  # noqa: PLC0415
  return list(datasets.load_sample_images().images)


def background(rng: np.random.Generator, size: int,
               photographs: List[np.ndarray]) -> np.ndarray:
  """A noisy flat colour, or a random crop of a photograph resized."""
  if rng.random() < 0.5:
    colour = rng.integers(0, 256, size=3)
    noise = rng.normal(0, 12, size=(size, size, 3))
    return np.clip(colour + noise, 0, 255).astype(np.uint8)
  photo = photographs[rng.integers(len(photographs))]
  crop = int(rng.integers(size, min(photo.shape[:2]) + 1))
  top = int(rng.integers(photo.shape[0] - crop + 1))
  left = int(rng.integers(photo.shape[1] - crop + 1))
  patch = Image.fromarray(photo[top:top + crop, left:left + crop])
  return np.asarray(patch.resize((size, size), Image.BILINEAR))


def polygon(kind: str, centre: Tuple[float, float], radius: float,
            angle: float) -> np.ndarray:
  """[K, 2] (x, y) vertices of a regular polygon (circle: 24 vertices)."""
  k = _VERTICES[kind]
  theta = angle + 2 * np.pi * np.arange(k) / k
  return np.stack([centre[0] + radius * np.cos(theta),
                   centre[1] + radius * np.sin(theta)], axis=1)


def make_image(rng: np.random.Generator, size: int, max_shapes: int,
               photographs: List[np.ndarray], kind: Optional[int] = None,
               count: Optional[int] = None):
  """One image and its shapes: (uint8 [size, size, 3], [(class, polygon)]).

  Args:
    rng: The generator every random choice comes from.
    size: Side of the square image.
    max_shapes: Most shapes drawn (1 to `max_shapes`, at random).
    photographs: Backgrounds to crop from (`load_photographs()`).
    kind: If set, the category id of every shape (else each at random).
    count: If set, how many shapes to try to place (else at random); a
      shape with no free spot after 50 tries is left out, so check the
      shapes returned.
  """
  image = Image.fromarray(background(rng, size, photographs))
  draw = ImageDraw.Draw(image)
  placed: List[Tuple[float, float, float]] = []
  shapes = []
  if count is None:
    count = int(rng.integers(1, max_shapes + 1))
  for _ in range(count):
    for _ in range(50):  # Rejection sampling for a free spot.
      radius = rng.uniform(0.08, 0.22) * size
      x, y = rng.uniform(radius + 1, size - radius - 1, size=2)
      if all(np.hypot(x - px, y - py) > radius + pr + 2
             for px, py, pr in placed):
        break
    else:
      continue
    placed.append((x, y, radius))
    category = (CATEGORIES[int(rng.integers(len(CATEGORIES)))]
                if kind is None else CATEGORIES[kind - 1])
    outline = polygon(category['name'], (x, y), radius,
                      rng.uniform(0, 2 * np.pi))
    colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
    draw.polygon([tuple(p) for p in outline], fill=colour)
    shapes.append((category['id'], outline))
  return np.asarray(image), shapes


def _annotation(polygon: np.ndarray, size: int, image_id: int,
                annotation_id: int, category_id: int) -> Dict:
  segmentation = [np.round(polygon.reshape(-1), 2).tolist()]
  rle = mask_api.frPyObjects(segmentation, size, size)
  x0, y0 = polygon.min(axis=0)
  x1, y1 = polygon.max(axis=0)
  return {
      'id': annotation_id, 'image_id': image_id, 'category_id': category_id,
      'segmentation': segmentation, 'iscrowd': 0,
      'area': float(mask_api.area(mask_api.merge(rle))),
      'bbox': [round(float(x0), 2), round(float(y0), 2),
               round(float(x1 - x0), 2), round(float(y1 - y0), 2)],
  }


def write_split(output_dir: str, split: str, num_images: int, image_size: int,
                max_shapes: int, seed: int) -> Dict:
  """Writes one split's images, COCO JSON and TFRecord; returns the JSON."""
  return write_scenes(
      output_dir, split, num_images, image_size, seed, CATEGORIES,
      lambda rng, photographs: make_image(rng, image_size, max_shapes,
                                          photographs),
      lambda polygon, *ids: _annotation(polygon, image_size, *ids))


def write_scenes(output_dir: str, split: str, num_images: int,
                 image_size: int, seed: int, categories, draw: Callable,
                 annotation: Callable) -> Dict:
  """Writes one split of a scene maker; returns its COCO JSON.

  Args:
    output_dir: The data set's folder (`write_coco`'s layout).
    split: 'train' or 'val'.
    num_images: Images of the split.
    image_size: Their side.
    seed: The split's seed.
    categories: The COCO categories.
    draw: (rng, photographs) -> (uint8 pixels, [(category id, instance)]).
    annotation: (instance, image id, annotation id, category id) -> its
      COCO annotation.
  """
  rng = np.random.default_rng(seed)
  photographs = load_photographs()
  image_dir = os.path.join(output_dir, split, 'images')
  os.makedirs(image_dir, exist_ok=True)
  coco = {'images': [], 'annotations': [],
          'categories': [dict(c) for c in categories]}
  for image_id in range(1, num_images + 1):
    pixels, instances = draw(rng, photographs)
    file_name = f'{image_id:06d}.jpg'
    Image.fromarray(pixels).save(os.path.join(image_dir, file_name),
                                 quality=95)
    coco['images'].append({'id': image_id, 'file_name': file_name,
                           'height': image_size, 'width': image_size})
    for category_id, instance in instances:
      coco['annotations'].append(annotation(
          instance, image_id, len(coco['annotations']) + 1, category_id))
  write_coco(output_dir, split, coco)
  return coco


def write_coco(output_dir: str, split: str, coco: Dict) -> None:
  """Writes a split's COCO JSON and, from it and its images, its TFRecord.

  The images are under `<output_dir>/<split>/images/`; the JSON goes to
  `<split>/instances.json` and the TFRecord (Model Garden's own COCO
  converter, masks included) to `tfrecord_path(output_dir, split)`.
  """
  from official.vision.data import create_coco_tf_record as coco_converter  # noqa: PLC0415
  from official.vision.data import tfrecord_lib  # noqa: PLC0415

  annotations_file = os.path.join(output_dir, split, 'instances.json')
  with open(annotations_file, 'w') as f:
    json.dump(coco, f)
  by_image, id_to_name = coco_converter._load_object_annotations(  # noqa: SLF001
      annotations_file)
  examples = coco_converter.generate_annotations(
      images=coco['images'], image_dirs=[os.path.join(output_dir, split,
                                                      'images')],
      img_to_obj_annotation=by_image, id_to_name_map=id_to_name,
      include_masks=True)
  prefix = tfrecord_path(output_dir, split)[:-len('-00000-of-00001.tfrecord')]
  tfrecord_lib.write_tf_record_dataset(
      prefix, examples, coco_converter.create_tf_example, num_shards=1,
      multiple_processes=0)


def make_shapes(output_dir: str, num_train: int = 2000, num_val: int = 200,
                image_size: int = 128, max_shapes: int = 4,
                seed: int = 0) -> Dict[str, str]:
  """Writes the train and val splits; returns {split: tfrecord path}.

  Args:
    output_dir: Where the splits go.
    num_train: Training images.
    num_val: Validation images.
    image_size: Square image side, pixels.
    max_shapes: At most this many shapes an image.
    seed: Seed of the training split (validation: seed + 1).

  Raises:
    ValueError: for sizes that cannot hold a shape, or no images.
  """
  if image_size < 32:
    raise ValueError(f'image_size={image_size} is too small; use >= 32.')
  if num_train < 1 or num_val < 1 or max_shapes < 1:
    raise ValueError(f'num_train={num_train}, num_val={num_val} and '
                     f'max_shapes={max_shapes} must be >= 1.')
  paths = {}
  for split, count, split_seed in (('train', num_train, seed),
                                   ('val', num_val, seed + 1)):
    write_split(output_dir, split, count, image_size, max_shapes, split_seed)
    paths[split] = tfrecord_path(output_dir, split)
  return paths


if __name__ == '__main__':
  cli.run(make_shapes)
