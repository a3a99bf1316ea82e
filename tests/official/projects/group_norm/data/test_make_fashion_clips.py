"""The Fashion-MNIST clip maker: labels, time reversal, one mover, splits."""

import hashlib

import numpy as np
import pytest
import tensorflow as tf

from official.projects.group_norm.data import make_fashion_clips
from official.projects.group_norm.data import make_shapes
from official.vision.dataloaders import video_input
from tests.official.projects.group_norm.data import fashion_idx


def _sha(path):
  with open(path, 'rb') as f:
    return hashlib.sha256(f.read()).hexdigest()


def _make(output_dir, files, **kwargs):
  folder, hashes = files
  return make_fashion_clips.make_fashion_clips(
      str(output_dir), fashion_mnist_dir=folder, routes=['explicit'],
      hashes=hashes, counts=fashion_idx.COUNTS, log=print, **kwargs)


@pytest.fixture(name='files')
def _files(tmp_path):
  folder = str(tmp_path / 'files')
  return folder, fashion_idx.write_files(folder)


@pytest.fixture(name='items', scope='module')
def _items():
  """Bright items (an ellipse), a few of each class."""
  yy, xx = np.mgrid[:28, :28]
  item = (((yy - 14) / 12) ** 2 + ((xx - 14) / 8) ** 2 < 1) * 255
  return {c: np.repeat(item[None].astype(np.uint8), 3, 0) for c in range(10)}


def _clip(items, label, seed=0, num_items=2):
  rng = np.random.default_rng(seed)
  return make_fashion_clips.make_clip(rng, label, items, num_items, 8, 48,
                                      make_shapes.load_photographs())


def test_model_gardens_decoder_reads_balanced_deterministic_splits(tmp_path,
                                                                   files):
  paths = _make(tmp_path / 'a', files, num_train=40, num_val=20)
  again = _make(tmp_path / 'b', files, num_train=40, num_val=20)
  assert all(_sha(p) == _sha(again[n]) for n, p in paths.items())
  labels = []
  for record in tf.data.TFRecordDataset(paths['train.tfrecord']):
    decoded = video_input.Decoder().decode(record)
    assert decoded['image/encoded'].shape == (8,)
    assert tf.io.decode_png(decoded['image/encoded'][0]).shape == (48, 48, 3)
    labels.append(int(decoded['clip/label/index'][0]))
  assert labels == list(range(20)) * 2


def test_down_is_the_same_draw_as_up_played_backwards(items):
  up = _clip(items, make_fashion_clips.label_of(3, 0))
  down = _clip(items, make_fashion_clips.label_of(3, 1))
  np.testing.assert_array_equal(down, up[::-1])


@pytest.mark.parametrize('num_items', [1, 2, 3])
def test_one_item_moves_and_the_others_stay(items, num_items):
  for seed in range(4):
    clip = _clip(items, 0, seed, num_items).astype(np.float32)
    width = 48 // num_items
    change = [np.abs(clip[-1, :, c * width:(c + 1) * width] -
                     clip[0, :, c * width:(c + 1) * width]).mean()
              for c in range(num_items)]
    moving = np.argmax(change)
    still = [c for i, c in enumerate(change) if i != moving]
    assert change[moving] > 20 and max(still, default=0) < 10, change


@pytest.mark.parametrize('num_frames', [8, 16])
def test_the_mover_goes_up_in_an_up_clip_wrapping_around(items, num_frames):
  for seed in range(3):
    rng = np.random.default_rng(seed)
    clip = make_fashion_clips.make_clip(
        rng, make_fashion_clips.label_of(5, 0), items, 2, num_frames, 48,
        make_shapes.load_photographs()).astype(np.float32)
    change = [np.abs(clip[-1, :, c * 24:(c + 1) * 24] -
                     clip[0, :, c * 24:(c + 1) * 24]).mean() for c in (0, 1)]
    mover = int(np.argmax(change)) * 24
    profile = clip[:, :, mover:mover + 24].mean(axis=(2, 3))  # [frames, rows]
    profile -= profile.mean(axis=0)  # What stays (the background) goes.
    # Each frame's shift from the last, the circular one that fits best.
    shifts = [max(range(-6, 7), key=lambda k, t=t: float(
        np.dot(np.roll(profile[t - 1], k), profile[t])))
              for t in range(1, num_frames)]
    assert np.mean(shifts) < -1, shifts  # Up: rows decrease.


def test_a_mover_whose_path_fits_stays_whole_in_every_frame():
  # Opaque square items: their pixels are exactly the tint, no noise.
  squares = {c: np.full((1, 28, 28), 255, np.uint8) for c in range(10)}
  for seed in range(6):
    rng = np.random.default_rng(seed)
    clip = make_fashion_clips.make_clip(
        rng, make_fashion_clips.label_of(1, 0), squares, 1, 16, 48,
        make_shapes.load_photographs(), speed=(0.015, 0.025), item_scale=0.6)
    colours, counts = np.unique(clip.reshape(-1, 3), axis=0,
                                return_counts=True)
    tint = colours[np.argmax(counts)]
    for frame in clip:
      rows = np.flatnonzero((frame == tint).all(-1).sum(-1) >= 29)
      # One band of the item's 29 rows: never split over the top and bottom.
      np.testing.assert_array_equal(rows, np.arange(rows[0], rows[0] + 29))


def test_training_clips_use_training_items_and_validation_test_items(
    tmp_path, files, monkeypatch):
  seen = []
  real = make_fashion_clips._clips  # noqa: SLF001

  def spy(count, items_by_class, *args):
    seen.append(sum(len(v) for v in items_by_class.values()))
    return real(count, items_by_class, *args)

  monkeypatch.setattr(make_fashion_clips, '_clips', spy)
  _make(tmp_path / 'out', files, num_train=2, num_val=2)
  assert seen == [fashion_idx.COUNTS['train'], fashion_idx.COUNTS['test']]


def test_coarse_classes_group_the_items_and_halve_the_labels(tmp_path,
                                                            files):
  assert make_fashion_clips.num_classes('coarse') == 10
  assert make_fashion_clips.num_classes() == make_fashion_clips.NUM_CLASSES
  groups = make_fashion_clips.CLASS_GROUPS['coarse']
  assert sorted(c for g in groups for c in g) == list(range(10))
  labels = np.arange(10).repeat(3)
  by_group = make_fashion_clips._items_by_class(  # noqa: SLF001
      labels * 10, labels, groups)  # An item's value names its class.
  assert [sorted(set(v // 10)) for v in by_group.values()] == [
      list(g) for g in groups]
  paths = _make(tmp_path / 'out', files, num_train=20, num_val=10,
                classes='coarse')
  decoded = [int(video_input.Decoder().decode(r)['clip/label/index'][0])
             for r in tf.data.TFRecordDataset(paths['train.tfrecord'])]
  assert decoded == list(range(10)) * 2


@pytest.mark.parametrize('kwargs,message', [
    (dict(num_items=0), 'num_items must be 1..10'),
    (dict(num_frames=3), 'num_frames=3 must be >= 4'),
    (dict(frame_size=30, num_items=3), r'>= 12 pixels'),
    (dict(item_scale=0.2), r'\* 0.2\) >= 12 pixels'),
    (dict(item_scale=1.5), r'item_scale must be in \(0, 1\]'),
    (dict(num_val=0), 'must be >= 1'),
    (dict(speed=(0.1, 0.3)), 'more than 0.5 of its side'),
    (dict(speed=(0.03, 0.02)), r'speed=\(0.03, 0.02\) must be a range'),
    (dict(classes='fine_grained'), r"classes must be one of \['coarse', "),
    (dict(classes='coarse', num_items=6),
     r"num_items must be 1..5 \('coarse' classes\)"),
])
def test_bad_arguments_raise_before_anything_is_read(tmp_path, kwargs,
                                                     message):
  with pytest.raises(ValueError, match=message):
    make_fashion_clips.make_fashion_clips(str(tmp_path / 'out'),
                                          fashion_mnist_dir='/nowhere',
                                          **kwargs)
  assert not (tmp_path / 'out').exists()
