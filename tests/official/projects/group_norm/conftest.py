"""Fixtures shared by the group_norm project tests (built once a session)."""

import pytest

from official.projects.group_norm import train
from official.projects.group_norm.data import make_clips
from official.projects.group_norm.data import make_shapes
from tests.official.projects.group_norm import helpers


@pytest.fixture(scope='session')
def data_dir(tmp_path_factory):
  """A session folder for the digits TFRecords (made on first use)."""
  return str(tmp_path_factory.mktemp('digits'))


@pytest.fixture(scope='session')
def trained(data_dir):
  """Two steps on 2 CPU replicas at 1 image each: (params, model_dir, model)."""
  model_dir = str(data_dir) + '_run'
  params = helpers.digits_params(data_dir, train_steps=2, global_batch=2)
  model, _ = train.run(params, model_dir, 'train', cpu_replicas=2,
                       run_post_eval=False)
  return params, model_dir, model


def _trained(params, model_dir):
  """Trains `params` on 2 CPU replicas, then evaluates; (params, dir, ...)."""
  model_dir = str(model_dir)
  model, eval_logs = train.run(params, model_dir, 'train', cpu_replicas=2,
                               run_post_eval=True, seed=0)
  return params, model_dir, model, eval_logs


@pytest.fixture(scope='session')
def shapes_dir(tmp_path_factory):
  """A tiny synthetic-shapes data set: 8 training and 4 validation images."""
  path = str(tmp_path_factory.mktemp('shapes'))
  make_shapes.make_shapes(path, num_train=8, num_val=4)
  return path


@pytest.fixture(scope='session')
def trained_maskrcnn(shapes_dir, tmp_path_factory):
  """Mask R-CNN trained 2 steps on 2 CPU replicas, then evaluated.

  maskrcnn_gn_shapes at 1 image per replica, then one COCO evaluation.
  Returns (params, model_dir, model, eval_logs).
  """
  return _trained(helpers.shapes_params(shapes_dir, train_steps=2),
                  tmp_path_factory.mktemp('maskrcnn_run'))


@pytest.fixture(scope='session')
def clips_dir(tmp_path_factory):
  """Tiny synthetic clips: 8 training and 4 validation clips of 8 frames."""
  path = str(tmp_path_factory.mktemp('clips'))
  make_clips.make_clips(path, num_train=8, num_val=4, num_frames=8,
                        frame_size=32)
  return path


@pytest.fixture(scope='session')
def trained_video(clips_dir, tmp_path_factory):
  """I3D-GN trained 2 steps on 2 CPU replicas at 1 clip each, evaluated.

  Returns (params, model_dir, model, eval_logs).
  """
  return _trained(helpers.clips_params(clips_dir, train_steps=2),
                  tmp_path_factory.mktemp('video_run'))
