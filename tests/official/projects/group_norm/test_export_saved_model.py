"""Export round trip: the SavedModel serves what the Keras model computes."""

import os

import numpy as np
import pytest
import tensorflow as tf

from official.core import task_factory
from official.projects.group_norm import export_saved_model
from official.projects.group_norm import export_tflite
from official.vision.ops import preprocess_ops
from tests.official.projects.group_norm import helpers


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


@pytest.mark.slow
def test_tflite_export_predicts_what_the_keras_model_does(trained, data_dir,
                                                          tmp_path):
  params, model_dir, _ = trained
  saved_model_dir = export_saved_model.export(
      params, model_dir, str(tmp_path / 'export'), input_type='tflite')
  path = export_tflite.convert(params, saved_model_dir,
                               str(tmp_path / 'model.tflite'))
  with pytest.raises(ValueError, match='exists; choose a new'):
    export_tflite.convert(params, saved_model_dir, path)
  normalized, labels = export_tflite.read_classification_tfrecord(
      os.path.join(data_dir, 'validation.tfrecord'), [32, 32])
  logits = export_tflite.tflite_logits(path, normalized)
  interpreter = tf.lite.Interpreter(model_path=path)
  ops = {op['op_name'] for op in interpreter._get_ops_details()}  # noqa: SLF001
  # No shape-computing ops, no CPU-only matmul sums, nothing above rank 4.
  assert not ops & {'SHAPE', 'STRIDED_SLICE', 'PACK', 'FILL',
                    'BATCH_MATMUL'}, ops
  assert max(len(t['shape']) for t in interpreter.get_tensor_details()) <= 4
  expected = _restored_model(params, model_dir)(normalized, training=False)
  np.testing.assert_allclose(logits, expected, atol=1e-4)
  assert len(labels) == 360
  np.testing.assert_array_equal(np.argmax(logits, -1),
                                np.argmax(expected, -1))


def test_mask_rcnn_takes_image_tensors_only(shapes_dir, tmp_path):
  with pytest.raises(ValueError, match='input_type=image_tensor only'):
    export_saved_model.export(helpers.shapes_params(shapes_dir), 'unused',
                              str(tmp_path), input_type='tflite')
