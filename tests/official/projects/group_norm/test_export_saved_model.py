"""Export round trip: the SavedModel serves what the Keras model computes."""

import os

import numpy as np
import pytest
import tensorflow as tf

from official.core import task_factory
from official.projects.group_norm import export_saved_model
from official.vision.ops import preprocess_ops


def _restored_model(params, model_dir):
  """The Keras model of `params` with the run's latest weights."""
  model = task_factory.get_task(params.task).build_model()
  tf.train.Checkpoint(model=model).read(
      tf.train.latest_checkpoint(model_dir)).expect_partial()
  return model


def _normalized(images):
  """What serving does to uint8 images before the model."""
  return preprocess_ops.normalize_image(
      tf.cast(images, tf.float32), offset=preprocess_ops.MEAN_RGB,
      scale=preprocess_ops.STDDEV_RGB)


@pytest.mark.slow
def test_export_serves_the_keras_models_outputs(trained, tmp_path):
  params, model_dir, _ = trained
  export_dir = str(tmp_path / 'export')
  saved_model_dir = export_saved_model.export(params, model_dir, export_dir)

  images = np.random.default_rng(0).integers(
      0, 256, size=(3, 32, 32, 3)).astype(np.uint8)
  loaded = tf.saved_model.load(saved_model_dir)
  served = loaded.signatures['serving_default'](tf.constant(images))

  expected = _restored_model(params, model_dir)(_normalized(images),
                                                training=False)
  np.testing.assert_allclose(served['logits'], expected, atol=1e-4)
  np.testing.assert_allclose(served['probs'], tf.nn.softmax(expected),
                             atol=1e-5)
  assert os.path.isfile(os.path.join(export_dir, 'params.yaml'))


@pytest.mark.slow
def test_export_refuses_to_overwrite(trained, tmp_path):
  params, model_dir, _ = trained
  export_dir = tmp_path / 'export'
  (export_dir / 'saved_model').mkdir(parents=True)
  (export_dir / 'saved_model' / 'saved_model.pb').write_bytes(b'model')
  with pytest.raises(ValueError, match='already holds a SavedModel'):
    export_saved_model.export(params, model_dir, str(export_dir))


@pytest.mark.slow
def test_export_without_checkpoint_raises(trained, tmp_path):
  params, _, _ = trained
  with pytest.raises(ValueError, match='No checkpoint in'):
    export_saved_model.export(params, str(tmp_path), str(tmp_path / 'e'))


@pytest.mark.slow
def test_maskrcnn_export_serves_the_keras_models_detections(
    trained_maskrcnn, tmp_path):
  params, model_dir, _, _ = trained_maskrcnn
  # Two steps do not lift any score over the usual 0.05: keep every box, so
  # that boxes, classes, scores and masks all have values to compare.
  params = params.replace(task={'model': {'detection_generator': {
      'pre_nms_score_threshold': 0.0}}})
  saved_model_dir = export_saved_model.export(params, model_dir,
                                              str(tmp_path / 'export'))
  size = params.task.model.input_size[0]
  # Images at the model's size: serving neither resizes nor pads them, so its
  # boxes are in the same pixels as the Keras model's.
  images = np.random.default_rng(1).integers(
      0, 256, size=(2, size, size, 3)).astype(np.uint8)
  served = tf.saved_model.load(saved_model_dir).signatures['serving_default'](
      tf.constant(images))

  expected = _restored_model(params, model_dir)(
      _normalized(images), image_shape=tf.constant([[size, size]] * 2),
      training=False)
  assert int(tf.reduce_min(expected['num_detections'])) > 0
  np.testing.assert_array_equal(served['num_detections'],
                                expected['num_detections'])
  np.testing.assert_array_equal(served['detection_classes'],
                                expected['detection_classes'])
  for key, atol in (('detection_boxes', 1e-3), ('detection_scores', 1e-5),
                    ('detection_masks', 1e-4)):
    np.testing.assert_allclose(served[key], expected[key], atol=atol,
                               err_msg=key)
