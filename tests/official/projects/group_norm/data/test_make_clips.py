"""The synthetic clips: classes in time-reversed pairs, MG's video decoder."""

import hashlib

import numpy as np
import pytest
import tensorflow as tf

from official.projects.group_norm.data import make_clips
from official.projects.group_norm.data import make_shapes
from official.vision.dataloaders import video_input


def _sha(path):
  with open(path, 'rb') as f:
    return hashlib.sha256(f.read()).hexdigest()


def test_model_gardens_decoder_reads_balanced_deterministic_splits(tmp_path):
  paths = make_clips.make_clips(str(tmp_path / 'a'), num_train=8, num_val=4,
                                num_frames=6, frame_size=24)
  again = make_clips.make_clips(str(tmp_path / 'b'), num_train=8, num_val=4,
                                num_frames=6, frame_size=24)
  assert all(_sha(p) == _sha(again[n]) for n, p in paths.items())
  decoder = video_input.Decoder()
  labels = []
  for record in tf.data.TFRecordDataset(paths['train.tfrecord']):
    decoded = decoder.decode(record)
    frames = decoded['image/encoded']
    assert frames.shape == (6,)
    assert tf.io.decode_png(frames[0]).shape == (24, 24, 3)
    labels.append(int(decoded['clip/label/index'][0]))
  assert labels == [0, 1, 2, 3] * 2


def test_pairs_are_time_reversals_of_the_same_draw():
  photographs = make_shapes.load_photographs()
  for first in (0, 2):
    forward = make_clips.make_clip(np.random.default_rng(5), first, 8, 32,
                                   photographs)
    backward = make_clips.make_clip(np.random.default_rng(5), first + 1, 8,
                                    32, photographs)
    np.testing.assert_array_equal(backward, forward[::-1])
    assert make_clips.pair_of(first) == make_clips.pair_of(first + 1)


def test_the_shape_is_always_brighter_than_its_background():
  """One contrast sign: motion shows in the sign of the temporal change."""
  photographs = make_shapes.load_photographs()
  rng = np.random.default_rng(3)
  for label in range(8):  # Flat and photographed backgrounds, every class.
    clip = make_clips.make_clip(rng, label % 4, 8, 32, photographs)
    shape = clip.min(-1) >= make_clips.MIN_SHAPE_LEVEL
    assert shape.any(axis=(1, 2)).all()  # In every frame,
    assert clip[~shape].max() < make_clips.MIN_SHAPE_LEVEL  # above the rest.


def _shape_row_and_area(frame):
  ys, _ = np.nonzero(frame.astype(int).sum(-1) > 60)  # Off the black.
  return ys.mean(), len(ys)


@pytest.mark.parametrize('label', range(4))
def test_each_class_does_what_it_says(label, monkeypatch):
  monkeypatch.setattr(make_shapes, 'background',
                      lambda rng, size, photographs: np.zeros((size, size, 3)))
  clip = make_clips.make_clip(np.random.default_rng(label), label, 8, 48, [])
  (first_row, first_area), (last_row, last_area) = (
      _shape_row_and_area(clip[0]), _shape_row_and_area(clip[-1]))
  if label == 0:
    assert last_row < first_row - 10  # Up: smaller row index.
  elif label == 1:
    assert last_row > first_row + 10
  elif label == 2:
    assert last_area > 2 * first_area
  else:
    assert first_area > 2 * last_area


def test_bad_sizes_raise(tmp_path):
  with pytest.raises(ValueError, match='num_frames=2 must be >= 4'):
    make_clips.make_clips(str(tmp_path), num_frames=2)
