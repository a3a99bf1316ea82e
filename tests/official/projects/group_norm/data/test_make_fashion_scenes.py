"""The Fashion-MNIST scene maker: occluded masks, boxes, COCO, splits."""

import hashlib
import json

import numpy as np
from pycocotools import mask as mask_api
import pytest
import tensorflow as tf

from official.projects.group_norm.data import make_fashion_scenes as scenes
from official.projects.group_norm.data import make_shapes
from official.vision.dataloaders import tf_example_decoder
from tests.official.projects.group_norm.data import fashion_idx


def _sha(path):
  with open(path, 'rb') as f:
    return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture(name='files')
def _files(tmp_path):
  folder = str(tmp_path / 'files')
  return folder, fashion_idx.write_files(folder)


def _make(output_dir, files, **kwargs):
  folder, hashes = files
  return scenes.make_fashion_scenes(
      str(output_dir), fashion_mnist_dir=folder, routes=['explicit'],
      hashes=hashes, counts=fashion_idx.COUNTS, log=print, **kwargs)


def _square_items():
  """Items that are one bright square: their masks are known exactly."""
  items = np.zeros((10, 28, 28), np.uint8)
  items[:, 4:24, 4:24] = 255
  return items, np.arange(10)


def test_masks_are_the_items_own_pixels_less_what_covers_them():
  items, labels = _square_items()
  rng = np.random.default_rng(3)
  image, objects = scenes.make_image(
      rng, 64, items, labels, make_shapes.load_photographs(), min_items=6,
      max_items=6, scale=(0.4, 0.6))
  assert image.shape == (64, 64, 3) and image.dtype == np.uint8
  masks = [mask for _, mask in objects]
  for i, a in enumerate(masks):  # Visible masks never overlap.
    for b in masks[i + 1:]:
      assert not (a & b).any()
  assert all(1 <= category <= 10 for category, _ in objects)
  assert 1 <= len(objects) <= 6


def test_an_item_mostly_covered_is_dropped():
  items, labels = _square_items()
  # Two items of the same size at the same place: the lower one is hidden.
  rng = np.random.default_rng(0)
  original = rng.integers

  class Fixed:
    """Draws the same place for every item."""

    def __getattr__(self, name):
      return getattr(rng, name)

    def integers(self, low, high=None, size=None):
      if size == 2:
        return np.array([10, 10])
      return original(low, high, size)

    def uniform(self, low=0.0, high=1.0, size=None):
      return 0.5 if size is None else rng.uniform(low, high, size)

  _, objects = scenes.make_image(Fixed(), 64, items, labels,
                                 make_shapes.load_photographs(), min_items=2,
                                 max_items=2)
  assert len(objects) == 1


def test_writes_coco_and_model_gardens_records_deterministically(tmp_path,
                                                                  files):
  paths = _make(tmp_path / 'a', files, num_train=4, num_val=3,
                image_size=64)
  again = _make(tmp_path / 'b', files, num_train=4, num_val=3,
                image_size=64)
  assert all(_sha(p) == _sha(again[s]) for s, p in paths.items())
  with open(tmp_path / 'a' / 'val' / 'instances.json') as f:
    coco = json.load(f)
  assert len(coco['images']) == 3 and len(coco['categories']) == 10
  for annotation in coco['annotations']:
    mask = mask_api.decode(mask_api.merge(mask_api.frPyObjects(
        annotation['segmentation'], 64, 64)))
    assert mask.sum() == annotation['area'] > 0
    ys, xs = np.nonzero(mask)
    assert annotation['bbox'] == [xs.min(), ys.min(), xs.max() - xs.min() + 1,
                                  ys.max() - ys.min() + 1]
  decoder = tf_example_decoder.TfExampleDecoder(include_mask=True)
  instances = 0
  for record in tf.data.TFRecordDataset(paths['val']):
    decoded = decoder.decode(record)
    assert decoded['image'].shape == (64, 64, 3)
    assert decoded['groundtruth_instance_masks'].shape[1:] == (64, 64)
    instances += int(decoded['groundtruth_classes'].shape[0])
  assert instances == len(coco['annotations'])


@pytest.mark.parametrize('kwargs,message', [
    (dict(image_size=32), 'too small'),
    (dict(min_items=3, max_items=2), 'min_items <= max_items'),
    (dict(scale=(0.5, 1.5)), 'scale must be within'),
    (dict(num_val=0), 'must be >= 1'),
])
def test_bad_arguments_raise_before_anything_is_read(tmp_path, kwargs,
                                                     message):
  with pytest.raises(ValueError, match=message):
    scenes.make_fashion_scenes(str(tmp_path / 'out'),
                               fashion_mnist_dir='/nowhere', **kwargs)
  assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize('first', [False, True])
def test_uncompressed_rle_round_trips_through_pycocotools(first):
  mask = np.random.default_rng(1).random((7, 9)) < 0.4
  mask[0, 0] = first
  rle = mask_api.frPyObjects([scenes.uncompressed_rle(mask)], 7, 9)
  np.testing.assert_array_equal(mask_api.decode(mask_api.merge(rle)), mask)
