r"""Synthetic clips whose classes need time: a moving or resizing shape.

  python -m official.projects.group_norm.data.make_clips \
      --output_dir=/tmp/clips --num_train=800 --num_val=200 --num_frames=8 \
      --frame_size=32

Each clip shows one shape of the detection set's maker (`make_shapes`: a
circle, square or triangle of random size, colour and rotation) over one of
its backgrounds (a noisy flat colour or a crop of a photograph), still, with
fresh pixel noise in every frame. The background is dimmed to 40% and every
channel of the shape's colour is at least 140, so the shape is always the
brighter: with random contrast polarity, motion direction was not learned
(see `make_clip`). The classes come in time-reversed pairs:

| label | class | pair |
| --- | --- | --- |
| 0 | moves up | motion |
| 1 | moves down | motion |
| 2 | grows | size |
| 3 | shrinks | size |

Each clip is drawn as the first class of its pair (random start, speed and
distance) and, for the second class, played backwards: the two members'
frames, taken as an unordered set, have the same distribution, so a model
that ignores the frames' order can at best tell the pair (50% top-1). Both
pairs are invariant under a left-right flip, which Model Garden's training
pipeline applies at random.

Written as Model Garden's video `tf.train.SequenceExample`s (context
`clip/label/index`, feature list `image/encoded`: one PNG per frame, with
Model Garden's `tfexample_utils` helpers), `train.tfrecord` and
`validation.tfrecord`. Classes take turns, so the splits are balanced. The
same seed gives byte-identical files. Nothing downloads.
"""

from typing import Dict, Iterator, Tuple

import numpy as np
from PIL import Image
from PIL import ImageDraw
import tensorflow as tf

from official.projects.group_norm.data import cli
from official.projects.group_norm.data import make_shapes
from official.projects.group_norm.data import records
from official.vision.dataloaders import tfexample_utils

TRAIN_FILE = records.TRAIN_FILE
VALIDATION_FILE = records.VALIDATION_FILE
CLASSES = ('moves up', 'moves down', 'grows', 'shrinks')
NUM_CLASSES = len(CLASSES)
BACKGROUND_DIMMING = 0.4  # Backgrounds at most 102 of 255 ...
MIN_SHAPE_LEVEL = 140  # ... under shapes of at least 140 in every channel.


def pair_of(label: int) -> int:
  """0 for the motion pair, 1 for the size pair."""
  return label // 2


def make_clip(rng: np.random.Generator, label: int, num_frames: int,
              size: int, photographs) -> np.ndarray:
  """One clip of class `label`: uint8 [num_frames, size, size, 3]."""
  # A dimmed background under a bright shape: the contrast has one sign, so
  # the direction of motion is the sign of the frames' temporal change at
  # the shape's edges, which a 3-D conv sees linearly. With contrast of
  # either sign it is a product of spatial and temporal change, and neither
  # the small I3D nor a plain 3-D CNN learned it in 8 epochs (top-1 25%).
  still = BACKGROUND_DIMMING * make_shapes.background(
      rng, size, photographs).astype(np.float32)
  kind = make_shapes.CATEGORIES[int(rng.integers(3))]['name']
  colour = tuple(int(c) for c in rng.integers(MIN_SHAPE_LEVEL, 256, size=3))
  angle = rng.uniform(0, 2 * np.pi)
  t = np.linspace(0.0, 1.0, num_frames)
  if pair_of(label) == 0:  # Drawn moving up; the pair's other plays back.
    radius = np.full(num_frames, rng.uniform(0.12, 0.2) * size)
    travel = rng.uniform(0.3, 0.55) * size
    x = rng.uniform(radius[0] + 1, size - radius[0] - 1)
    start = rng.uniform(radius[0] + 1 + travel, size - radius[0] - 1)
    centres = [(x, start - travel * s) for s in t]
  else:  # Drawn growing.
    small = rng.uniform(0.08, 0.14) * size
    radius = small * (1 + rng.uniform(1.0, 1.6) * t)
    x, y = rng.uniform(radius[-1] + 1, size - radius[-1] - 1, size=2)
    centres = [(x, y)] * num_frames
  frames = []
  for centre, r in zip(centres, radius):
    frame = np.clip(still + rng.normal(0, 6, still.shape), 0, 255)
    image = Image.fromarray(frame.astype(np.uint8))
    outline = make_shapes.polygon(kind, centre, r, angle)
    ImageDraw.Draw(image).polygon([tuple(p) for p in outline], fill=colour)
    frames.append(np.asarray(image))
  clip = np.stack(frames)
  return clip[::-1] if label % 2 else clip


def clip_example(clip: np.ndarray, label: int) -> bytes:
  """A Model Garden video SequenceExample: PNG frames and the label."""
  example = tf.train.SequenceExample()
  tfexample_utils.put_int64_to_context(example, label=label)
  for frame in clip:
    tfexample_utils.put_bytes_list_to_feature(
        example, tfexample_utils.encode_image(frame, 'PNG'), repeat_num=1)
  return example.SerializeToString()


def _clips(num_clips: int, num_frames: int, size: int,
           seed: int) -> Iterator[Tuple[np.ndarray, int]]:
  rng = np.random.default_rng(seed)
  photographs = make_shapes.load_photographs()
  for i in range(num_clips):
    label = i % NUM_CLASSES
    yield make_clip(rng, label, num_frames, size, photographs), label


def make_clips(output_dir: str, num_train: int = 800, num_val: int = 200,
               num_frames: int = 8, frame_size: int = 32,
               seed: int = 0) -> Dict[str, str]:
  """Writes the train and validation TFRecords; returns {file name: path}.

  Args:
    output_dir: Folder for the TFRecords.
    num_train: Training clips.
    num_val: Validation clips.
    num_frames: Frames per clip (store at least the experiment's frames x
      temporal stride).
    frame_size: Side of the square frames (set the experiment's
      min_image_size to it).
    seed: Seed of the training split (validation: seed + 1).

  Raises:
    ValueError: for too few frames or clips, or frames too small.
  """
  if num_frames < 4 or frame_size < 16 or num_train < 1 or num_val < 1:
    raise ValueError(
        f'num_frames={num_frames} must be >= 4, frame_size={frame_size} >= '
        f'16, num_train={num_train} and num_val={num_val} >= 1.')
  return records.write_splits(
      output_dir, num_train, num_val, seed,
      lambda _, count, split_seed: (
          clip_example(clip, label) for clip, label in _clips(
              count, num_frames, frame_size, split_seed)))


if __name__ == '__main__':
  cli.run(make_clips)
