"""The classification task: data made on first use, as the config says."""

import os

import tensorflow as tf

from official.projects.group_norm import registry_imports  # noqa: F401 (registers the task)
from official.projects.group_norm.data import make_shapes_classification
from tests.official.projects.group_norm import helpers


def test_digits_are_made_at_the_models_size_and_style(tmp_path):
  train_path = str(tmp_path / 'train.tfrecord')
  images, labels = helpers.first_batch('resnet_gn_colour_digits',
                                       'train_data', train_path, 4)
  assert sorted(os.listdir(tmp_path)) == ['train.tfrecord',
                                          'validation.tfrecord']
  assert images.shape == (4, 64, 64, 3) and labels.shape == (4,)
  raw = next(iter(tf.data.TFRecordDataset(train_path)))
  png = tf.train.Example.FromString(raw.numpy()).features.feature[
      'image/encoded'].bytes_list.value[0]
  image = tf.io.decode_png(png).numpy()
  assert image.shape == (64, 64, 3)
  assert (image[..., 0] != image[..., 1]).any()  # Coloured, not grey.


def test_shapes_are_made_at_the_models_size(tmp_path, monkeypatch):
  made, (images, labels) = helpers.first_batch_made_here(
      monkeypatch, tmp_path, make_shapes_classification,
      'make_shapes_classification', 'resnet_gn_shapes_pretrain', 12)
  assert made == [{'image_size': 64}]
  assert images.shape == (12, 64, 64, 3)
  assert sorted(labels.numpy().tolist()) == list(range(12))  # Balanced.
