"""clip_errors.split: the top-1 error parted into class and direction."""

import math

import numpy as np
import pytest

from official.projects.group_norm.data import make_fashion_clips
from official.projects.group_norm.studies import clip_errors


def test_split_parts_class_and_direction_errors():
  label = make_fashion_clips.label_of
  labels = [label(3, 0), label(3, 1), label(7, 0), label(7, 1)]
  predictions = [label(3, 0), label(3, 0), label(2, 0), label(2, 0)]
  # Right; wrong direction; wrong class, right direction; both wrong.
  assert clip_errors.split(np.array(predictions), np.array(labels)) == {
      'top_1': 0.25, 'item_class': 0.5, 'direction': 0.5,
      'direction_when_class_right': 0.5}


def test_split_with_no_class_right_and_bad_shapes():
  result = clip_errors.split(np.array([0, 2]), np.array([4, 6]))
  assert result['item_class'] == 0 and math.isnan(
      result['direction_when_class_right'])
  with pytest.raises(ValueError, match='equal, non-empty'):
    clip_errors.split(np.array([0, 1]), np.array([0]))
  with pytest.raises(ValueError, match='equal, non-empty'):
    clip_errors.split(np.array([]), np.array([]))
