"""Synthetic shapes: COCO JSON, Model Garden TFRecords, determinism."""

import filecmp
import json
import os

import numpy as np
from pycocotools import coco as coco_api
import pytest
import tensorflow as tf

from official.projects.group_norm.data import make_shapes
from official.vision.dataloaders import tf_example_decoder


@pytest.fixture(scope='module')
def shapes_dir(tmp_path_factory):
  output_dir = str(tmp_path_factory.mktemp('shapes'))
  make_shapes.make_shapes(output_dir, num_train=12, num_val=3, image_size=64)
  return output_dir


def test_writes_coco_json_that_pycocotools_reads(shapes_dir):
  coco = coco_api.COCO(os.path.join(shapes_dir, 'train', 'instances.json'))
  assert len(coco.getImgIds()) == 12
  assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == [
      'circle', 'square', 'triangle']
  annotations = coco.loadAnns(coco.getAnnIds())
  assert len(annotations) >= 12  # At least one shape an image.
  for annotation in annotations:
    x, y, w, h = annotation['bbox']
    assert 0 <= x and 0 <= y and x + w <= 64 and y + h <= 64
    assert 0 < annotation['area'] <= w * h + 1e-6
    assert coco.annToMask(annotation).sum() == annotation['area']


def test_tfrecords_decode_with_model_gardens_decoder(shapes_dir):
  with open(os.path.join(shapes_dir, 'val', 'instances.json')) as f:
    coco = json.load(f)
  decoder = tf_example_decoder.TfExampleDecoder(include_mask=True)
  records = tf.data.TFRecordDataset(
      make_shapes.tfrecord_path(shapes_dir, 'val'))
  decoded = [decoder.decode(r) for r in records]
  assert len(decoded) == 3
  for image, example in zip(coco['images'], decoded):
    expected = [a for a in coco['annotations']
                if a['image_id'] == image['id']]
    assert example['image'].shape == (64, 64, 3)
    np.testing.assert_array_equal(example['groundtruth_classes'],
                                  [a['category_id'] for a in expected])
    masks = example['groundtruth_instance_masks'].numpy()
    np.testing.assert_array_equal(masks.sum(axis=(1, 2)),
                                  [a['area'] for a in expected])
    boxes = example['groundtruth_boxes'].numpy()
    assert np.all((0 <= boxes) & (boxes <= 1))


def test_same_seed_same_bytes(shapes_dir, tmp_path):
  make_shapes.make_shapes(str(tmp_path), num_train=12, num_val=3,
                          image_size=64)
  for split in ('train', 'val'):
    assert filecmp.cmp(make_shapes.tfrecord_path(shapes_dir, split),
                       make_shapes.tfrecord_path(str(tmp_path), split),
                       shallow=False)


@pytest.mark.parametrize('kwargs, match', [
    ({'image_size': 16}, 'image_size=16 is too small'),
    ({'num_train': 0}, 'num_train=0, num_val=200 and max_shapes=4 must be'),
])
def test_bad_arguments(tmp_path, kwargs, match):
  with pytest.raises(ValueError, match=match):
    make_shapes.make_shapes(str(tmp_path), **kwargs)
  assert not os.listdir(tmp_path)
