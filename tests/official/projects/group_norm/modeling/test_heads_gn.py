"""GN heads: Model Garden's shapes, norm placement, per-RoI independence."""

import collections

import numpy as np
import pytest
import tensorflow as tf

from official.projects.group_norm.modeling import heads_gn
from official.projects.group_norm.modeling import norms
from official.vision.modeling.heads import dense_prediction_heads
from official.vision.modeling.heads import instance_heads


def _layer_counts(layer):
  """{class name: count} of every layer inside `layer`."""
  return collections.Counter(
      type(sub).__name__ for sub in layer._flatten_layers(include_self=False))  # noqa: SLF001


def _features(channels=16):
  return {str(level): tf.random.normal([2, 2**(7 - level), 2**(7 - level),
                                        channels]) for level in (2, 3, 4)}


def test_rpn_head_matches_model_gardens_shapes_and_has_no_norm_by_default():
  features = _features()
  ours = heads_gn.RPNHeadGN(2, 4, num_anchors_per_location=3, num_filters=16)
  theirs = dense_prediction_heads.RPNHead(2, 4, num_anchors_per_location=3,
                                          num_filters=16)
  (scores, boxes), (mg_scores, mg_boxes) = ours(features), theirs(features)
  for level in features:
    assert scores[level].shape == mg_scores[level].shape
    assert boxes[level].shape == mg_boxes[level].shape
  assert not norms.count_norm_layers(ours)
  assert all(conv.use_bias for conv in ours._convs)  # noqa: SLF001


def test_rpn_head_norm_is_per_level_with_shared_convs():
  head = heads_gn.RPNHeadGN(2, 4, num_anchors_per_location=3, num_convs=2,
                            num_filters=16, norm='group_norm', groups=4)
  head(_features())
  assert norms.count_norm_layers(head) == {'GroupNormalization': 6}  # 3 x 2.
  assert _layer_counts(head)['Conv2D'] == 4  # 2 shared + scores + boxes.
  assert not any(conv.use_bias for conv in head._convs)  # noqa: SLF001


def test_detection_head_is_4conv1fc_with_gn_and_no_norm_on_the_fc():
  rois = tf.random.normal([2, 5, 7, 7, 16])
  ours = heads_gn.DetectionHeadGN(num_classes=4, num_filters=16, fc_dims=32,
                                  groups=4)
  theirs = instance_heads.DetectionHead(num_classes=4, num_convs=4,
                                        num_filters=16, num_fcs=1, fc_dims=32)
  classes, boxes = ours(rois)
  mg_classes, mg_boxes = theirs(rois)
  assert classes.shape == mg_classes.shape == (2, 5, 4)
  assert boxes.shape == mg_boxes.shape == (2, 5, 16)
  assert norms.count_norm_layers(ours) == {'GroupNormalization': 4}
  assert _layer_counts(ours)['Dense'] == 3  # fc, scores, boxes: no norm.
  assert norms.count_norm_layers(theirs) == {'BatchNormalization': 5}  # + fc.


@pytest.mark.parametrize('make', [
    lambda: heads_gn.DetectionHeadGN(num_classes=4, num_filters=16,
                                     fc_dims=32, groups=4),
    lambda: heads_gn.MaskHeadGN(num_classes=4, num_filters=16, groups=4),
])
def test_one_rois_output_does_not_depend_on_the_other_rois(make):
  head = make()
  rois = tf.random.normal([1, 6, 7, 7, 16])
  classes = tf.constant([[1, 2, 3, 1, 2, 3]])

  def run(x, c):
    out = head(x, training=True) if isinstance(
        head, heads_gn.DetectionHeadGN) else head([x, c], training=True)
    return tf.nest.flatten(out)[0][:, :1]

  alone = run(rois[:, :1], classes[:, :1])
  together = run(rois, classes)
  np.testing.assert_allclose(alone, together, rtol=1e-5, atol=1e-5)


def test_mask_head_matches_model_gardens_shapes_and_picks_the_class():
  rois = tf.random.normal([2, 3, 14, 14, 16])
  classes = tf.constant([[1, 2, 0], [3, 3, 1]])
  ours = heads_gn.MaskHeadGN(num_classes=4, num_filters=16, groups=4)
  theirs = instance_heads.MaskHead(num_classes=4, num_filters=16)
  masks = ours([rois, classes])
  assert masks.shape == theirs([rois, classes]).shape == (2, 3, 28, 28)
  agnostic = heads_gn.MaskHeadGN(num_classes=4, num_filters=16, groups=4,
                                 class_agnostic=True)
  assert agnostic([rois, classes]).shape == (2, 3, 28, 28)
  assert norms.count_norm_layers(ours) == {'GroupNormalization': 4}
  convs = [layer for layer in ours._flatten_layers()  # noqa: SLF001
           if type(layer).__name__ == 'Conv2D']
  assert [c.use_bias for c in convs] == [False] * 4 + [True]  # + logits.


def test_heads_config_round_trip():
  head = heads_gn.MaskHeadGN(num_classes=4, num_filters=16, groups=4,
                             name='mask_head')
  again = heads_gn.MaskHeadGN.from_config(head.get_config())
  assert again.get_config() == head.get_config()


def test_batch_norm_heads_are_one_argument():
  head = heads_gn.DetectionHeadGN(num_classes=4, num_filters=16, fc_dims=32,
                                  norm='batch_norm')
  head(tf.random.normal([1, 2, 7, 7, 16]))
  assert norms.count_norm_layers(head) == {'BatchNormalization': 4}
