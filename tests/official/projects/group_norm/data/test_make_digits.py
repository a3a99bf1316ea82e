"""Tests for the digits TFRecord maker."""

import hashlib
import os

import numpy as np
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


def test_colour_style_paints_each_image_and_keeps_the_digit(tmp_path):
  paths = make_digits.make_digits(str(tmp_path / 'a'), image_size=16,
                                  style='colour')
  again = make_digits.make_digits(str(tmp_path / 'b'), image_size=16,
                                  style='colour')
  assert all(_sha(p) == _sha(again[n]) for n, p in paths.items())
  x_train = make_digits.datasets.load_digits()[0]
  images = [tf.io.decode_png(tf.train.Example.FromString(r.numpy()).features
                             .feature['image/encoded'].bytes_list.value[0])
            .numpy().astype(float) for r in
            tf.data.TFRecordDataset(paths['train.tfrecord']).take(20)]
  corners = np.stack([image[0, 0] for image in images])
  assert corners.std(axis=0).min() > 30  # Backgrounds differ per image.
  for image, digit in zip(images, x_train):
    # Each channel is background + (digit colour - background) x intensity.
    intensity = digit[..., 0].repeat(2, 0).repeat(2, 1)
    for channel in range(3):
      fit = np.polyfit(intensity.ravel(), image[..., channel].ravel(), 1)
      assert np.allclose(np.polyval(fit, intensity), image[..., channel],
                         atol=1)


def test_unknown_style_raises(tmp_path):
  with pytest.raises(ValueError, match="Unknown style 'sepia'"):
    make_digits.make_digits(str(tmp_path), style='sepia')
