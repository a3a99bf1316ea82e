"""I3D-GN video classification through the project's train and export code.

Training at one clip per replica on 2 CPU replicas, evaluation, export round
trip, initialisation checks, data made on first use.
"""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from official.core import exp_factory
from official.core import task_factory
from official.projects.group_norm import export_saved_model
from official.projects.group_norm.data import make_clips
from official.projects.group_norm.data import make_fashion_clips
from official.vision.dataloaders import video_input
from tests.official.projects.group_norm import helpers
from tests.official.projects.group_norm.data import fashion_idx


@pytest.mark.slow
def test_one_mirrored_step_at_one_clip_per_replica(trained_video):
  params, model_dir, model, _ = trained_video
  reader = helpers.two_mirrored_steps(params, model, model_dir)
  names = [n for n in reader.get_variable_to_shape_map()
           if n.startswith('model/') and 'VARIABLE_VALUE' in n]
  assert names and all(np.isfinite(reader.get_tensor(n)).all()
                       for n in names)


@pytest.mark.slow
def test_short_evaluation_reports_top_1(trained_video):
  _, model_dir, _, eval_logs = trained_video
  assert 0.0 <= float(eval_logs['accuracy']) <= 1.0
  with open(os.path.join(model_dir, 'eval_metrics.json')) as f:
    written = json.load(f)
  assert written['global_step'] == 2
  assert written['accuracy'] == pytest.approx(float(eval_logs['accuracy']))


@pytest.mark.slow
def test_export_serves_the_keras_models_outputs(trained_video, tmp_path):
  params, model_dir, model, _ = trained_video
  saved_model_dir = export_saved_model.export(params, model_dir,
                                              str(tmp_path / 'export'))
  clip = np.random.default_rng(0).integers(
      0, 256, size=(1, 8, 32, 32, 3)).astype(np.uint8)
  served = tf.saved_model.load(saved_model_dir).signatures[
      'serving_default'](tf.constant(clip))
  data = params.task.validation_data
  frames = video_input.process_image(
      tf.constant(clip[0]), is_training=False, num_frames=8, stride=1,
      num_test_clips=1, min_resize=data.min_image_size, crop_size=32)
  restored = task_factory.get_task(params.task).build_model()
  tf.train.Checkpoint(model=restored).read(
      tf.train.latest_checkpoint(model_dir)).expect_partial()
  expected = restored(tf.cast(frames, tf.float32)[None], training=False)
  np.testing.assert_allclose(served['logits'], expected, atol=1e-4)
  np.testing.assert_allclose(served['probs'], tf.nn.softmax(expected),
                             atol=1e-5)
  del model


def test_missing_init_checkpoint_is_a_clear_error(tmp_path):
  params = exp_factory.get_exp_config('video_i3d_gn_clips')
  params.task.init_checkpoint = str(tmp_path / 'nothing')
  task = task_factory.get_task(params.task)
  with pytest.raises(ValueError, match='neither a checkpoint nor a folder'):
    task.initialize(None)


def test_clips_are_made_at_the_clip_length_and_size(tmp_path, monkeypatch):
  made, (features, labels) = helpers.first_batch_made_here(
      monkeypatch, tmp_path, make_clips, 'make_clips', 'video_i3d_gn_clips',
      4)
  assert made == [{'num_frames': 8, 'frame_size': 32}]
  assert features['image'].shape == (4, 8, 32, 32, 3)
  assert sorted(np.argmax(labels, -1).tolist()) == [0, 1, 2, 3]


def test_fashion_clips_are_made_from_the_fashion_files(tmp_path, monkeypatch):
  made = fashion_idx.use_test_files(
      monkeypatch, make_fashion_clips, 'make_fashion_clips',
      str(tmp_path / 'files'),
      num_train=20, num_val=20, log=print)
  features, labels = helpers.first_batch(
      'video_i3d_gn_fashion_clips', 'validation_data',
      str(tmp_path / 'validation.tfrecord'), 20)
  assert [(m['num_train'], m['num_val'], m['num_items'], m['num_frames'],
           m['frame_size'], m['classes'], m['speed']) for m in made] == [
               (4000, 2000, 1, 8, 48, 'coarse', (0.02, 0.035))]
  assert features['image'].shape == (20, 8, 48, 48, 3)
  # 10 labels (5 coarse classes x 2 directions), taking turns.
  assert sorted(np.argmax(labels, -1).tolist()) == sorted(list(range(10)) * 2)
  with pytest.raises(ValueError, match="'fine' gives 20 labels; the data "
                     'config has num_classes=10'):
    helpers.first_batch(
        'video_i3d_gn_fashion_clips', 'validation_data',
        str(tmp_path / 'validation.tfrecord'), 20,
        overrides={'task': {'fashion_clips_classes': 'fine'}})
  with pytest.raises(ValueError, match=r"'item_scale': \(1.0, 0.5\)"):
    helpers.first_batch(
        'video_i3d_gn_fashion_clips', 'validation_data',
        str(tmp_path / 'validation.tfrecord'), 20,
        overrides={'task': {'fashion_clips_item_scale': 0.5}})
