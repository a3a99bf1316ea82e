r"""Converts a classifier exported with `--input_type=tflite` to TFLite.

  python -m official.projects.group_norm.export_saved_model \
      --experiment=resnet_gn_digits --config_file=RUN/params.yaml \
      --checkpoint_path=RUN --export_dir=RUN/export_tflite --input_type=tflite
  python -m official.projects.group_norm.export_tflite \
      --experiment=resnet_gn_digits --config_file=RUN/params.yaml \
      --saved_model_dir=RUN/export_tflite/saved_model \
      --tflite_path=RUN/model.tflite [--quant_type=default|fp16|int8] \
      [--eval_tfrecord=~/.cache/gn_keras/digits/validation.tfrecord]

Model Garden's `export_tflite.py` cannot see this project's experiments, so
this script is its counterpart over Model Garden's own
`export_tflite_lib.convert_tflite_model` (built-in ops; post-training
quantization `default` = dynamic range, `fp16`, `int8` calibrated on the
experiment's training data through the project's task, which makes the data
if the experiment does). GN converts to built-in ops only, every tensor of
rank 4 at most, with no shape-computing ops. The model takes float32 images
normalized as Model Garden's preprocessing does (`(pixels - MEAN_RGB) /
STDDEV_RGB`) and returns the classifier's outputs. `--eval_tfrecord` runs
the converted model in the TFLite interpreter over a classification TFRecord
(`image/encoded`, `image/class/label`, as Model Garden reads them) and prints
its top-1 accuracy.
"""

import os

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from official.core import task_factory
from official.modeling import hyperparams
from official.projects.group_norm import registry_imports  # noqa: F401 (registers the experiments)
from official.projects.group_norm.configs import common
from official.vision.ops import preprocess_ops
from official.vision.serving import export_tflite_lib

QUANT_TYPES = ('none', 'default', 'fp16', 'int8')


def convert(params, saved_model_dir: str, tflite_path: str,
            quant_type: str = 'none', calibration_steps: int = 200) -> str:
  """Writes the TFLite model of a `--input_type=tflite` SavedModel.

  Args:
    params: The experiment config (for int8 calibration data).
    saved_model_dir: The SavedModel, exported with `input_type='tflite'`.
    tflite_path: Where the `.tflite` file goes; must not exist.
    quant_type: One of `QUANT_TYPES`.
    calibration_steps: Images for int8 calibration.

  Returns:
    `tflite_path`.

  Raises:
    ValueError: for an existing `tflite_path`, a missing SavedModel or an
      unknown quantization.
  """
  if quant_type not in QUANT_TYPES:
    raise ValueError(f'--quant_type={quant_type!r}; choose from '
                     f'{list(QUANT_TYPES)}.')
  if tf.io.gfile.exists(tflite_path):
    raise ValueError(f'{tflite_path} exists; choose a new --tflite_path.')
  if not tf.io.gfile.exists(os.path.join(saved_model_dir, 'saved_model.pb')):
    raise ValueError(f'{saved_model_dir} holds no SavedModel; export one with '
                     'export_saved_model --input_type=tflite.')
  task = task_factory.get_task(params.task) if quant_type == 'int8' else None
  flatbuffer = export_tflite_lib.convert_tflite_model(
      saved_model_dir=saved_model_dir,
      quant_type=None if quant_type == 'none' else quant_type,
      params=params, task=task, calibration_steps=calibration_steps)
  tf.io.gfile.makedirs(os.path.dirname(tflite_path) or '.')
  with tf.io.gfile.GFile(tflite_path, 'wb') as f:
    f.write(flatbuffer)
  return tflite_path


def read_classification_tfrecord(path: str, image_size,
                                 center_crop: bool = False):
  """(float32 images preprocessed as Model Garden serves them, int labels).

  Args:
    path: A TFRecord of `image/encoded` and `image/class/label` examples.
    image_size: [height, width] of the model's input.
    center_crop: Crop the centre first, as serving does for experiments
      whose training data has `aug_crop`.
  """
  features = {'image/encoded': tf.io.FixedLenFeature([], tf.string),
              'image/class/label': tf.io.FixedLenFeature([], tf.int64)}
  images, labels = [], []
  for record in tf.data.TFRecordDataset(path):
    example = tf.io.parse_single_example(record, features)
    image = tf.io.decode_image(example['image/encoded'], channels=3,
                               expand_animations=False)
    image = tf.cast(image, tf.float32)
    if center_crop:
      image = preprocess_ops.center_crop_image(image)
    images.append(tf.image.resize(image, image_size))
    labels.append(int(example['image/class/label']))
  images = preprocess_ops.normalize_image(
      tf.stack(images), offset=preprocess_ops.MEAN_RGB,
      scale=preprocess_ops.STDDEV_RGB)
  return images.numpy(), np.array(labels)


def tflite_logits(tflite_path: str, images: np.ndarray) -> np.ndarray:
  """The converted classifier's logits for a batch, in the interpreter."""
  interpreter = tf.lite.Interpreter(model_path=tflite_path)
  serve = interpreter.get_signature_runner('serving_default')
  (input_name,) = serve.get_input_details()
  return serve(**{input_name: images})['logits']


def main(_) -> None:
  """Converts the flags' SavedModel (and evaluates it if asked)."""
  params = common.get_exp_config(FLAGS.experiment)
  for config_file in FLAGS.config_file or []:
    params = hyperparams.override_params_dict(params, config_file,
                                              is_strict=True)
  path = convert(params, FLAGS.saved_model_dir, FLAGS.tflite_path,
                 FLAGS.quant_type)
  print(f'TFLite model: {path} ({os.path.getsize(path)} bytes)', flush=True)
  if FLAGS.eval_tfrecord:
    images, labels = read_classification_tfrecord(
        os.path.expanduser(FLAGS.eval_tfrecord),
        params.task.model.input_size[:2], params.task.train_data.aug_crop)
    accuracy = np.mean(np.argmax(tflite_logits(path, images), -1) == labels)
    print(f'TFLite top-1 accuracy on {len(labels)} images of '
          f'{FLAGS.eval_tfrecord}: {accuracy:.4f}', flush=True)


FLAGS = flags.FLAGS

if __name__ == '__main__':
  flags.DEFINE_string('experiment', None, 'A registered experiment name.')
  flags.DEFINE_multi_string('config_file', None, 'YAML files of overrides, '
                            'e.g. the params.yaml of a training run.')
  flags.DEFINE_string('saved_model_dir', None, 'A SavedModel exported with '
                      'export_saved_model --input_type=tflite.')
  flags.DEFINE_string('tflite_path', None, 'The .tflite file to write.')
  flags.DEFINE_enum('quant_type', 'none', list(QUANT_TYPES),
                    'Post-training quantization: none, default (dynamic '
                    'range), fp16 or int8.')
  flags.DEFINE_string('eval_tfrecord', None, 'A classification TFRecord to '
                      'measure the TFLite model\'s top-1 accuracy on.')
  flags.mark_flags_as_required(['experiment', 'saved_model_dir',
                                'tflite_path'])
  app.run(main)
