r"""Clips of real objects whose class needs the frames' order: Fashion-MNIST.

  python -m official.projects.group_norm.data.make_fashion_clips \
      --output_dir=/tmp/fashion_clips --num_train=4000 --num_val=2000

Each clip shows `num_items` Fashion-MNIST items of different classes side by
side (each in its own column of the frame, so none covers another) over one
of the shape maker's backgrounds (a crop of a photograph or a noisy flat
colour, dimmed to 40%, fresh pixel noise in every frame). One item moves,
vertically at a constant speed (`SPEED`), wrapping around its column like a
conveyor belt, so that a clip of any length can carry it at that speed and a
longer clip sees it travel further; the others stay still. The label is the
moving item's class and its direction: label = 2 * class + (0 up, 1 down),
20 classes. With `classes='coarse'` an item's class is its group of
`CLASS_GROUPS['coarse']` (tops, trousers, dresses, footwear, bags: the
categories a small network confuses within, not across), 10 labels.

Which item moves can be read from the frames taken as a set (its place
differs between them), its direction cannot: each clip is drawn moving up,
and a 'down' clip is the same draw played backwards, so the two have the
same frames as a set. A model blind to the frames' order (C2D) can at best
name the class, 50% top-1; an I3D has to see the direction. No single frame
tells which item moves. Up and down survive the left-right flips Model
Garden's training pipeline applies.

Items are bright on a dimmed background (each channel of the tint at least
140, the item's grey value its opacity), as `make_clips` found necessary: with
contrast of either sign, the direction of motion is a product of spatial and
temporal change that small 3-D networks did not learn. Training clips use
the training split's items, validation clips the test split's (found by
`fashion_mnist.find_files`; nothing downloads unless every other route
fails). Written as Model Garden's video SequenceExamples (`make_clips`'s
format). Labels take turns, so the splits are balanced; the same arguments
give byte-identical files.
"""

from typing import Callable, Dict, Iterator, Optional, Tuple

import numpy as np
from PIL import Image

from official.projects.group_norm.data import cli
from official.projects.group_norm.data import fashion_mnist
from official.projects.group_norm.data import make_clips
from official.projects.group_norm.data import make_shapes
from official.projects.group_norm.data import records

NUM_ITEM_CLASSES = 10
# The mover's speed, as a fraction of the frame's side per frame (drawn per
# clip): its path grows with the clip's length, so that a longer clip holds
# more evidence of the direction (the longer-clips comparison). The pilot
# found the slower (0.02, 0.033) near chance after 6 epochs and this one
# three times as good (docs/video_fashion/pilot.md).
SPEED = (0.04, 0.07)
# Wrapping, a mover shifted by more than half its side a frame would be
# ambiguous in direction.
MAX_STEP = 0.5  # Of the item's side.
NUM_CLASSES = 2 * NUM_ITEM_CLASSES  # (class, up or down).
DIRECTIONS = ('up', 'down')
# Fashion-MNIST's classes as the clips' classes ('fine'), or in groups.
CLASS_GROUPS = {
    'fine': tuple((c,) for c in range(NUM_ITEM_CLASSES)),
    # T-shirt, pullover, coat, shirt | trouser | dress | sandal, sneaker,
    # ankle boot | bag.
    'coarse': ((0, 2, 4, 6), (1,), (3,), (5, 7, 9), (8,)),
}


def num_classes(classes: str = 'fine') -> int:
  """The clips' labels under a grouping of `CLASS_GROUPS`: 2 a class."""
  return 2 * len(CLASS_GROUPS[classes])


def label_of(item_class: int, direction: int) -> int:
  """The clip label of a moving item's class and direction (0 up, 1 down)."""
  return 2 * item_class + direction


def item_side(size: int, num_items: int, item_scale: float) -> int:
  """An item's side in pixels: `item_scale` of its column's width."""
  return max(1, round(size // num_items * item_scale))


def make_clip(rng: np.random.Generator, label: int, items_by_class,
              num_items: int, num_frames: int, size: int, photographs,
              speed: Tuple[float, float] = SPEED,
              item_scale: float = 1.0) -> np.ndarray:
  """One clip of class `label`: uint8 [num_frames, size, size, 3].

  Args:
    rng: The clip's random draws.
    label: `label_of(class, direction)` of the moving item.
    items_by_class: {class: uint8 [n, 28, 28] items} to draw from.
    num_items: Items in the clip (the mover and num_items - 1 still ones of
      other classes).
    num_frames: Frames of the clip.
    size: Side of the square frames.
    photographs: `make_shapes.load_photographs()`.
    speed: The mover's speed range, fractions of `size` per frame. Where
      its path fits in the column it starts where it never leaves the
      frame; otherwise it wraps around its column.
    item_scale: Each item's side as a fraction of its column's width.
  """
  mover_class, direction = divmod(label, 2)
  others = rng.permutation(
      [c for c in sorted(items_by_class) if c != mover_class])
  classes = [mover_class, *others[:num_items - 1]]
  columns = rng.permutation(num_items)  # The mover's column is random.
  width = size // num_items
  side = item_side(size, num_items, item_scale)
  still = make_clips.BACKGROUND_DIMMING * make_shapes.background(
      rng, size, photographs).astype(np.float32)
  path = rng.uniform(*speed) * (num_frames - 1) * size
  placed = []  # (alpha, tint, left, top per frame)
  for i, item_class in enumerate(classes):
    pool = items_by_class[item_class]
    item = pool[int(rng.integers(len(pool)))]
    alpha = np.asarray(Image.fromarray(item).resize((side, side),
                                                    Image.BILINEAR),
                       np.float32)[..., None] / 255
    tint = rng.integers(make_clips.MIN_SHAPE_LEVEL, 256, size=3).astype(
        np.float32)
    left = int(columns[i]) * width + int(rng.integers(width - side + 1))
    if i == 0:  # Drawn moving up; wrapping only where its path overflows.
      start = (rng.uniform(path, size - side) if path <= size - side
               else rng.uniform(0, size))
      tops = start - path * np.linspace(0.0, 1.0, num_frames)
    else:
      tops = np.full(num_frames, rng.uniform(0, size - side))
    placed.append((alpha, tint, left, np.round(tops).astype(int)))
  frames = []
  for t in range(num_frames):
    frame = np.clip(still + rng.normal(0, 6, still.shape), 0, 255)
    for alpha, tint, left, tops in placed:
      rows = (tops[t] + np.arange(side)) % size  # Still items never wrap.
      patch = frame[rows, left:left + side]
      frame[rows, left:left + side] = patch + alpha * (tint - patch)
    frames.append(np.round(frame).astype(np.uint8))
  clip = np.stack(frames)
  return clip[::-1] if direction else clip


def _items_by_class(items, labels, groups):
  return {g: items[np.isin(labels, group)] for g, group in enumerate(groups)}


def _clips(count: int, items_by_class, num_items: int, num_frames: int,
           size: int, seed: int, speed: Tuple[float, float],
           item_scale: float) -> Iterator[Tuple[np.ndarray, int]]:
  rng = np.random.default_rng(seed)
  photographs = make_shapes.load_photographs()
  for i in range(count):
    label = i % (2 * len(items_by_class))
    yield make_clip(rng, label, items_by_class, num_items, num_frames, size,
                    photographs, speed, item_scale), label


def make_fashion_clips(output_dir: str, num_train: int = 4000,
                       num_val: int = 2000, num_items: int = 2,
                       num_frames: int = 8, frame_size: int = 48,
                       seed: int = 0,
                       fashion_mnist_dir: Optional[str] = None,
                       speed: Tuple[float, float] = SPEED,
                       item_scale: float = 1.0,
                       classes: str = 'fine',
                       log: Callable[[str], None] = print,
                       **load_kwargs) -> Dict[str, str]:
  """Writes the train and validation TFRecords; returns {file name: path}.

  The settings they were made with go to `records.SETTINGS_FILE` beside
  them, for `records.check_settings`.

  Args:
    output_dir: Folder of the two files.
    num_train: Training clips (items from the training split).
    num_val: Validation clips (items from the test split).
    num_items: Items a clip, 1 to the number of classes, each of its own
      class; each gets a column of the frame (one item: the mover alone,
      the frame's full width).
    num_frames: Frames a clip, at least 4.
    frame_size: Side of the frames; each item is frame_size // num_items
      pixels wide, at least 12.
    seed: Seed of the training split (validation: seed + 1).
    fashion_mnist_dir: A folder holding the four files (the explicit route).
    speed: The mover's speed range, fractions of the side a frame.
    item_scale: Each item's side as a fraction of its column's width, in
      (0, 1]; at least 12 pixels.
    classes: A grouping of `CLASS_GROUPS`: 'fine' (Fashion-MNIST's 10) or
      'coarse' (5 groups); `num_classes(classes)` labels.
    log: Receives the route taken and the files written.
    **load_kwargs: Further `fashion_mnist.load` arguments (tests).

  Raises:
    ValueError: for bad sizes or counts (before anything is read or written).
  """
  if classes not in CLASS_GROUPS:
    raise ValueError(f'classes must be one of {sorted(CLASS_GROUPS)}; '
                     f'received {classes!r}.')
  groups = CLASS_GROUPS[classes]
  if not 1 <= num_items <= len(groups):
    raise ValueError(f'num_items must be 1..{len(groups)} ({classes!r} '
                     f'classes); received {num_items}.')
  if not 0 < item_scale <= 1:
    raise ValueError(f'item_scale must be in (0, 1]; received {item_scale}.')
  side = item_side(frame_size, num_items, item_scale)
  if num_frames < 4 or side < 12:
    raise ValueError(
        f'num_frames={num_frames} must be >= 4 and an item\'s side '
        f'(frame_size // num_items * item_scale: {frame_size} // {num_items} '
        f'* {item_scale}) >= 12 pixels.')
  if not 0 < speed[0] <= speed[1]:
    raise ValueError(f'speed={speed} must be a range 0 < low <= high.')
  if speed[1] * frame_size > MAX_STEP * side:
    raise ValueError(
        f'speed up to {speed[1]} of the side a frame moves a {side}-pixel '
        f'item more than {MAX_STEP} of its side: its direction would be '
        'ambiguous.')
  records.check_counts(num_train, num_val)
  x_train, y_train, x_test, y_test = fashion_mnist.load(
      fashion_mnist_dir, log=log, **load_kwargs)
  items = {True: _items_by_class(x_train, y_train, groups),
           False: _items_by_class(x_test, y_test, groups)}

  def examples(is_training, count, split_seed):
    for clip, label in _clips(count, items[is_training], num_items,
                              num_frames, frame_size, split_seed, speed,
                              item_scale):
      yield make_clips.clip_example(clip, label)

  paths = records.write_splits(output_dir, num_train, num_val, seed,
                               examples)
  for name, count in zip(paths, (num_train, num_val)):
    log(f'Wrote {count} Fashion-MNIST clips to {paths[name]}')
  records.write_settings(output_dir, dict(
      num_train=num_train, num_val=num_val, num_items=num_items,
      num_frames=num_frames, frame_size=frame_size, seed=seed, speed=speed,
      item_scale=item_scale, classes=classes))
  return paths


if __name__ == '__main__':
  cli.run(make_fashion_clips)
