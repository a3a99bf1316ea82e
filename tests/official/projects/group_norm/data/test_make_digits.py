"""Tests for the digits TFRecord maker."""

import hashlib
import os

import pytest
import tensorflow as tf

from official.projects.group_norm.data import make_digits
from official.vision.dataloaders import classification_input


def _sha(path):
  with open(path, 'rb') as f:
    return hashlib.sha256(f.read()).hexdigest()


def test_writes_a_deterministic_split_in_model_garden_format(tmp_path):
  paths = make_digits.make_digits(str(tmp_path / 'a'))
  again = make_digits.make_digits(str(tmp_path / 'b'))
  counts = {}
  for name, path in paths.items():
    assert _sha(path) == _sha(again[name])
    records = list(tf.data.TFRecordDataset(path))
    counts[name] = len(records)
    decoded = classification_input.Decoder().decode(records[0])
    image = tf.io.decode_image(decoded['image/encoded'], channels=3)
    assert image.shape == (32, 32, 3) and image.dtype == tf.uint8
    assert 0 <= int(decoded['image/class/label']) <= 9
  assert counts == {'train.tfrecord': 1437, 'validation.tfrecord': 360}
  assert sorted(os.listdir(tmp_path / 'a')) == sorted(paths)  # No temp files.


def test_bad_image_size_raises(tmp_path):
  with pytest.raises(ValueError, match='multiple of 8.*received 30'):
    make_digits.make_digits(str(tmp_path), image_size=30)
