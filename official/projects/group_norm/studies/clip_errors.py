r"""What a Fashion-clips run gets wrong: the item's class or its direction.

  python -m official.projects.group_norm.studies.clip_errors \
      --run_dir=runs/video_fashion/pilot/NAME/runs/group_norm_b8_s0

A clip's label is `make_fashion_clips.label_of(class, direction)`: a
frame-order-blind model can name the class, only one that sees the frames'
order the direction. Splitting the top-1 error into the two parts tells a
difficulty pilot which part to make easier or harder. Reads the run's
`params.yaml` and latest checkpoint and predicts its validation clips.
"""

from typing import Dict

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from official.core import task_factory
from official.modeling.hyperparams import params_dict
from official.projects.group_norm import registry_imports  # noqa: F401 (registers the experiments)
from official.projects.group_norm.configs import common

EXPERIMENT = 'video_i3d_gn_fashion_clips'


def split(predictions: np.ndarray, labels: np.ndarray) -> Dict[str, float]:
  """Accuracies of the whole label and of its two parts.

  Args:
    predictions: Predicted labels, int [n].
    labels: True labels, int [n].

  Returns:
    {'top_1', 'item_class', 'direction', 'direction_when_class_right'}, as
    fractions; the last is nan when no class is right.
  """
  predictions, labels = np.asarray(predictions), np.asarray(labels)
  if predictions.shape != labels.shape or not labels.size:
    raise ValueError(f'Need equal, non-empty shapes; received '
                     f'{predictions.shape} and {labels.shape}.')
  right_class = predictions // 2 == labels // 2
  right = predictions == labels
  return {'top_1': float(right.mean()),
          'item_class': float(right_class.mean()),
          'direction': float((predictions % 2 == labels % 2).mean()),
          'direction_when_class_right': (
              float(right.sum() / right_class.sum()) if right_class.any()
              else float('nan'))}


def predict(run_dir: str, experiment: str = EXPERIMENT) -> Dict[str, float]:
  """`split` of a trained run's predictions on its validation clips."""
  params = common.get_exp_config(experiment)
  params = params_dict.override_params_dict(
      params, f'{run_dir}/params.yaml', is_strict=False)
  task = task_factory.get_task(params.task, logging_dir=run_dir)
  model = task.build_model()
  checkpoint = tf.train.latest_checkpoint(run_dir)
  if checkpoint is None:
    raise FileNotFoundError(f'No checkpoint in {run_dir}.')
  tf.train.Checkpoint(model=model).read(checkpoint).expect_partial()
  predictions, labels = [], []
  for clips, label in task.build_inputs(params.task.validation_data):
    predictions.append(np.argmax(model(clips, training=False), -1))
    label = label.numpy()  # One-hot or class ids, as the parser gives.
    labels.append(np.argmax(label, -1) if label.ndim > 1 else label)
  return split(np.concatenate(predictions), np.concatenate(labels))


def main(_) -> None:
  """Prints the split of --run_dir's validation accuracy."""
  result = predict(FLAGS.run_dir, FLAGS.experiment)
  print(', '.join(f'{key} {100 * value:.1f}%' for key, value in
                  result.items()))


FLAGS = flags.FLAGS

if __name__ == '__main__':
  flags.DEFINE_string('run_dir', None, 'A trained run folder.')
  flags.DEFINE_string('experiment', EXPERIMENT, 'Its registered experiment.')
  flags.mark_flags_as_required(['run_dir'])
  app.run(main)
