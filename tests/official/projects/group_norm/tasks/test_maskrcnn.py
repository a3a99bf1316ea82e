"""Mask R-CNN-GN through the project's train script.

Training, COCO evaluation, checkpoint initialisation, data made on first use.
"""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from official.core import exp_factory
from official.core import task_factory
from official.projects.group_norm.data import make_fashion_scenes
from official.projects.group_norm.data import make_shapes
from official.projects.group_norm.tasks import maskrcnn as maskrcnn_task
from tests.official.projects.group_norm import helpers
from tests.official.projects.group_norm.data import fashion_idx


@pytest.mark.slow
def test_one_mirrored_step_at_one_image_per_replica(trained_maskrcnn):
  params, model_dir, model, _ = trained_maskrcnn
  reader = helpers.two_mirrored_steps(params, model, model_dir)
  names = [n for n in reader.get_variable_to_shape_map()
           if n.startswith(('backbone/', 'decoder/', 'rpn_head/',
                            'detection_head/', 'mask_head/'))]
  assert {n.split('/')[0] for n in names} == {
      'backbone', 'decoder', 'rpn_head', 'detection_head', 'mask_head'}
  assert all(np.isfinite(reader.get_tensor(n)).all() for n in names)


@pytest.mark.slow
def test_coco_evaluation_reports_box_and_mask_ap(trained_maskrcnn):
  _, model_dir, _, eval_logs = trained_maskrcnn
  for key in ('AP', 'AP50', 'mask_AP', 'mask_AP50'):
    assert 0.0 <= float(eval_logs[key]) <= 1.0, key
  with open(os.path.join(model_dir, 'eval_metrics.json')) as f:
    written = json.load(f)
  assert written['global_step'] == 2
  assert written['mask_AP'] == pytest.approx(
      float(eval_logs['mask_AP']))


@pytest.mark.slow
def test_backbone_initialises_from_a_classification_checkpoint(
    trained, shapes_dir, tmp_path):
  """A ResNet-GN classifier's checkpoint initialises the backbone.

  As a resnet50_gn_imagenet run's would, through `task.init_checkpoint`.
  """
  _, classifier_dir, _ = trained  # resnet_gn_digits: ResNet-18 x 0.25, G=8.
  params = helpers.shapes_params(shapes_dir)
  params.override({'task': {
      'init_checkpoint': classifier_dir, 'init_checkpoint_modules': 'backbone',
      'model': {'backbone': {'resnet_gn': {'depth_multiplier': 0.25}}}}},
                  is_strict=True)
  task = task_factory.get_task(params.task)
  model = task.build_model()
  task.initialize(model)
  reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(classifier_dir))
  saved = {name: reader.get_tensor(name)
           for name in reader.get_variable_to_shape_map()
           if name.startswith('backbone/') and '.OPTIMIZER_SLOT' not in name}
  # Write what the model now holds, under the same object paths.
  probe = tf.train.load_checkpoint(tf.train.Checkpoint(
      backbone=model.backbone).write(str(tmp_path / 'probe')))
  assert len(saved) > 20
  for name, value in saved.items():
    np.testing.assert_array_equal(probe.get_tensor(name), value, err_msg=name)


def test_missing_init_checkpoint_is_a_clear_error(shapes_dir, tmp_path):
  params = helpers.shapes_params(shapes_dir)
  params.override({'task': {'init_checkpoint': str(tmp_path / 'nothing')}},
                  is_strict=True)
  task = task_factory.get_task(params.task)
  with pytest.raises(ValueError, match=r"task.init_checkpoint=.*nothing' is "
                     r'neither a checkpoint nor a folder holding one'):
    task.initialize(model=None)


def test_shapes_are_made_on_first_use(shapes_dir, tmp_path, monkeypatch):
  made = []

  def fake_make_shapes(output_dir):  # The real one is tested in data/.
    made.append(output_dir)
    for split in ('train', 'val'):
      tf.io.gfile.copy(make_shapes.tfrecord_path(shapes_dir, split),
                       make_shapes.tfrecord_path(output_dir, split))

  monkeypatch.setattr(maskrcnn_task.make_shapes, 'make_shapes',
                      fake_make_shapes)
  params = helpers.shapes_params(str(tmp_path))
  task = task_factory.get_task(params.task)
  dataset = task.build_inputs(params.task.train_data)
  images, _ = next(iter(dataset))
  assert made == [str(tmp_path)]
  assert images.shape[0] == 2
  task.build_inputs(params.task.validation_data)
  assert made == [str(tmp_path)]  # Not again once the files are there.


def test_fashion_scenes_are_made_from_the_fashion_files(tmp_path, monkeypatch):
  made = fashion_idx.use_test_files(
      monkeypatch, make_fashion_scenes, 'make_fashion_scenes',
      str(tmp_path / 'files'),
      num_train=2, num_val=2)
  params = exp_factory.get_exp_config('maskrcnn_gn_fashion_scenes')
  validation = params.task.validation_data
  validation.input_path = str(tmp_path / 'val-*.tfrecord')
  task = task_factory.get_task(params.task)
  images, labels = next(iter(task.build_inputs(validation)))
  assert [m['image_size'] for m in made] == [128]
  assert images.shape == (2, 128, 128, 3)
  classes = labels['groundtruths']['classes'].numpy()
  assert classes.max() <= 10 and (classes > 0).any()
  # Scenes of other settings in the folder are refused, not read.
  params.task.fashion_scenes_items = (1, 3)
  with pytest.raises(ValueError, match=r"'max_items': \(8, 3\), "
                     r"'min_items': \(2, 1\)"):
    task_factory.get_task(params.task).build_inputs(validation)
  assert len(made) == 1
