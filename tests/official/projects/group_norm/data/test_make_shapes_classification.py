"""The shapes classification set: labels, balance, determinism, MG's decoder."""

import numpy as np
import pytest
import tensorflow as tf

from official.projects.group_norm.data import make_shapes
from official.projects.group_norm.data import make_shapes_classification as msc
from official.vision.dataloaders import classification_input


def test_make_image_draws_the_kind_and_count_asked_for():
  rng = np.random.default_rng(0)
  photographs = make_shapes.load_photographs()
  for kind in (1, 2, 3):
    for count in (1, 4):
      image, shapes = make_shapes.make_image(rng, 64, 4, photographs,
                                             kind=kind, count=count)
      assert image.shape == (64, 64, 3)
      assert [category for category, _ in shapes] == [kind] * count


def test_labels_name_kind_and_count():
  assert msc.num_classes(4) == 12
  assert msc.class_of(0, 4) == ('circle', 1)
  assert msc.class_of(7, 4) == ('square', 4)
  assert msc.class_of(11, 4) == ('triangle', 4)


def test_model_gardens_decoder_reads_balanced_deterministic_splits(tmp_path):
  kwargs = dict(num_train=12, num_val=6, image_size=32, max_count=2)
  paths = msc.make_shapes_classification(str(tmp_path / 'a'), **kwargs)
  again = msc.make_shapes_classification(str(tmp_path / 'b'), **kwargs)
  for name, path in paths.items():
    with open(path, 'rb') as f, open(again[name], 'rb') as g:
      assert f.read() == g.read(), name  # Same seed, same bytes.
  decoder = classification_input.Decoder()
  labels = []
  for record in tf.data.TFRecordDataset(paths[msc.TRAIN_FILE]):
    decoded = decoder.decode(record)
    image = tf.io.decode_png(decoded['image/encoded'])
    assert tuple(image.shape) == (32, 32, 3)
    labels.append(int(decoded['image/class/label']))
  assert labels == list(range(6)) * 2  # 3 kinds x 1..2 shapes, in turn.
  assert sum(1 for _ in tf.data.TFRecordDataset(
      paths[msc.VALIDATION_FILE])) == 6


@pytest.mark.parametrize('kwargs,message', [
    (dict(image_size=16), 'too small'),
    (dict(max_count=5), 'max_count=5 in 1..4'),
    (dict(num_val=0), 'num_val=0'),
])
def test_bad_settings_raise(tmp_path, kwargs, message):
  with pytest.raises(ValueError, match=message):
    msc.make_shapes_classification(str(tmp_path), **kwargs)
