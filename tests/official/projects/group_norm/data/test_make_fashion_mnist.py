"""The Fashion-MNIST TFRecord maker: subset, styles, determinism, failures."""

import hashlib
import os

import numpy as np
import pytest
import tensorflow as tf

from official.projects.group_norm.data import fashion_mnist
from official.projects.group_norm.data import make_fashion_mnist
from official.projects.group_norm.data import make_shapes
from official.vision.dataloaders import classification_input
from tests.official.projects.group_norm.data import fashion_idx


def _sha(path):
  with open(path, 'rb') as f:
    return hashlib.sha256(f.read()).hexdigest()


def _make(output_dir, files_dir, hashes, **kwargs):
  return make_fashion_mnist.make_fashion_mnist(
      str(output_dir), fashion_mnist_dir=files_dir, routes=['explicit'],
      hashes=hashes, counts=fashion_idx.COUNTS, log=print, **kwargs)


def _decoded(path):
  images, labels = [], []
  for record in tf.data.TFRecordDataset(path):
    decoded = classification_input.Decoder().decode(record)
    images.append(tf.io.decode_image(decoded['image/encoded'],
                                     channels=3).numpy())
    labels.append(int(decoded['image/class/label']))
  return np.stack(images), labels


@pytest.fixture(name='files')
def _files(tmp_path):
  folder = str(tmp_path / 'files')
  return folder, fashion_idx.write_files(folder)


@pytest.mark.parametrize('style', make_fashion_mnist.STYLES)
def test_writes_a_balanced_subset_and_the_whole_test_split(tmp_path, files,
                                                           style):
  folder, hashes = files
  paths = _make(tmp_path / 'a', folder, hashes, style=style,
                train_per_class=2)
  again = _make(tmp_path / 'b', folder, hashes, style=style,
                train_per_class=2)
  for name, path in paths.items():
    assert _sha(path) == _sha(again[name])  # Deterministic.
  train_images, train_labels = _decoded(paths['train.tfrecord'])
  val_images, val_labels = _decoded(paths['validation.tfrecord'])
  assert train_images.shape == (20, 32, 32, 3)
  assert sorted(train_labels) == sorted(list(range(10)) * 2)
  assert val_labels == list(range(10))  # The test split, in order.
  assert sorted(os.listdir(tmp_path / 'a')) == sorted(paths)  # No temp files.
  items = fashion_mnist.load(folder, routes=['explicit'], hashes=hashes,
                             counts=fashion_idx.COUNTS, log=print)[2]
  if style == 'plain':  # The grey item, centred, on black.
    np.testing.assert_array_equal(val_images[3, 2:30, 2:30, 1], items[3])
    assert val_images[:, :2].max() == 0
  else:  # Every image its own background: the borders differ.
    assert len({image[0, 0].tobytes() for image in val_images}) > 5


def test_compose_blends_the_tinted_item_by_its_grey_value():
  rng = np.random.default_rng(0)
  photographs = make_shapes.load_photographs()
  white = np.full((28, 28), 255, np.uint8)
  image = make_fashion_mnist.compose(white, 32, rng, photographs)
  # A white item is opaque: one tint covers a square of 75-100% of the side,
  # standing out from the background around it.
  colours, counts = np.unique(image.reshape(-1, 3), axis=0,
                              return_counts=True)
  side = int(np.sqrt(counts.max()))
  assert 0.75 * 32 - 1 <= side <= 32 and image.dtype == np.uint8
  for seed in range(20):
    rng_a, rng_b = np.random.default_rng(seed), np.random.default_rng(seed)
    image = make_fashion_mnist.compose(white, 32, rng_a, photographs)
    background = make_shapes.background(rng_b, 32, photographs)
    colours, counts = np.unique(image.reshape(-1, 3), axis=0,
                                return_counts=True)
    tint = colours[counts.argmax()].astype(float)
    assert np.abs(tint - background.mean(axis=(0, 1))).mean() >= (
        make_fashion_mnist.MIN_CONTRAST - 1)
  black = np.zeros((28, 28), np.uint8)  # Transparent: the background alone.
  rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(1)
  np.testing.assert_array_equal(
      make_fashion_mnist.compose(black, 32, rng_a, photographs),
      make_shapes.background(rng_b, 32, photographs))


def test_balanced_subset_is_seeded_and_refuses_too_many():
  labels = np.arange(100) % 10
  a = make_fashion_mnist.balanced_subset(labels, 3, seed=0)
  assert list(np.bincount(labels[a])) == [3] * 10
  assert list(a) == list(make_fashion_mnist.balanced_subset(labels, 3, 0))
  assert list(a) != list(make_fashion_mnist.balanced_subset(labels, 3, 1))
  with pytest.raises(ValueError, match='Class 0 has 10 examples; 11 asked'):
    make_fashion_mnist.balanced_subset(labels, 11, seed=0)


def test_bad_arguments_and_missing_files_leave_nothing(tmp_path, files):
  folder, hashes = files
  with pytest.raises(ValueError, match="Unknown style 'sepia'"):
    _make(tmp_path / 'out', folder, hashes, style='sepia')
  with pytest.raises(ValueError, match='at least 28.*received 24'):
    _make(tmp_path / 'out', folder, hashes, image_size=24)
  with pytest.raises(fashion_mnist.NotFoundError):
    _make(tmp_path / 'out', str(tmp_path / 'nowhere'), hashes)
  assert not os.path.exists(tmp_path / 'out')
