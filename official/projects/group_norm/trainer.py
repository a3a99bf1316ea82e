"""Model Garden's trainer with the guards a long unattended run needs.

`GuardedTrainer` is `base_trainer.Trainer` plus:
- a non-finite training loss (or weights) stops training before the
  controller writes a checkpoint, so NaN weights never replace good ones;
- `replay_input=True` makes a resumed run read the same examples an
  uninterrupted run would: the training input pipeline restarts from its
  beginning and discards what the restored steps already consumed. With op
  determinism on, kill-and-resume then gives the uninterrupted run's weights.
  Replaying costs reading (not training on) those examples: cheap for small
  data, slow for ImageNet-sized runs, hence off by default.

- `progress` (e.g. `print`) receives one line per training loop (step,
  steps/s, loss, ETA) and one per evaluation (its scalar metrics): what a
  person at the terminal needs while Model Garden's full log goes to a file.
- `history_dir`, if set, gets each training loop's and evaluation's scalars
  in `history.json` (`runner.append_history`): the training curves.

`check_checkpoint_matches` refuses a model_dir whose checkpoint was written by
another model (e.g. BatchNorm's, resumed with a GroupNorm config), which
Orbit's restore would otherwise accept with part of the weights left fresh.
"""

import math
import time
from typing import Callable, Optional

from absl import logging
import tensorflow as tf

from official.core import base_trainer
from official.projects.group_norm import runner
from official.projects.group_norm import script_logs


class NonFiniteLossError(FloatingPointError):
  """The training loss became NaN or infinite."""


class GuardedTrainer(base_trainer.Trainer):
  """`base_trainer.Trainer` that stops on NaN loss and can replay its input."""

  def __init__(self, *args, replay_input: bool = False,
               progress: Optional[Callable[[str], None]] = None,
               history_dir: Optional[str] = None, **kwargs):
    super().__init__(*args, **kwargs)
    self._history_dir = history_dir
    self._replay_input = replay_input
    self._input_positioned = False
    self._progress = progress
    self._loop_start = None
    # (global step, logs) of the latest evaluation: `train.run` returns it
    # instead of evaluating the same weights again.
    self.last_eval = None
    # A function of this trainer's model: traced per trainer, as a shared
    # tf.function could reuse a trace that captured another model's weights.
    self._weights_finite = tf.function(lambda: tf.reduce_all(
        [tf.reduce_all(tf.math.is_finite(v))
         for v in self.model.trainable_variables]))

  def train(self, num_steps):
    """Trains `num_steps`, after replaying the input on resume if asked."""
    if self._replay_input and not self._input_positioned:
      self._position_input(int(self.global_step.numpy()))
    self._input_positioned = True
    self._loop_start = (time.monotonic(), int(self.global_step.numpy()))
    return super().train(num_steps)

  def _position_input(self, step: int) -> None:
    """Rebuilds the training input so that it starts at `step`."""
    if not step:
      return
    task, data_config = self.task, self.config.task.train_data

    def dataset_fn(input_context=None):
      dataset = task.build_inputs(data_config, input_context)
      # Each step takes one (per-replica) batch per replica of this pipeline.
      replicas = (input_context.num_replicas_in_sync //
                  input_context.num_input_pipelines) if input_context else 1
      return dataset.skip(step * replicas)

    logging.info('Replaying the training input up to step %d.', step)
    self.train_dataset = self.distribute_dataset(dataset_fn)

  def train_loop_end(self):
    """Model Garden's loop end, refusing a non-finite loss or weights."""
    logs = super().train_loop_end()
    loss = float(logs[self.train_loss.name])
    # The loss is measured before each update: finite weights are checked
    # too, or the last update of a loop could checkpoint NaN weights.
    problem = (f'Training loss is {loss}' if not math.isfinite(loss) else
               None if self._weights_finite() else
               f'The weights became non-finite (loss {loss:.4g})')
    if problem:
      step = int(self.global_step.numpy())
      first = max(step - int(self.config.trainer.steps_per_loop) + 1, 1)
      raise NonFiniteLossError(
          f'{problem} at step {step} (in steps {first}..{step}); stopped '
          'before writing a checkpoint, so the latest checkpoint in model_dir '
          'still holds finite weights. Lower the learning rate or check the '
          'data, then resume.')
    if self._progress and self._loop_start:
      self._progress(self._loop_line(loss))
    self._record('train', logs)
    return logs

  def _record(self, kind: str, logs) -> None:
    """Appends the scalars of `logs` to the run's history, if kept."""
    if self._history_dir:
      runner.append_history(self._history_dir, {
          'kind': kind, 'step': int(self.global_step.numpy()),
          **runner.scalar_metrics(logs)})

  def _loop_line(self, loss: float) -> str:
    """'step 179/1074 (17%) | 21.3 steps/s | loss 0.812 | ETA 0:42'."""
    start_time, start_step = self._loop_start
    step, total = int(self.global_step.numpy()), self.config.trainer.train_steps
    rate = (step - start_step) / max(time.monotonic() - start_time, 1e-9)
    eta = int((total - step) / rate) if rate > 0 else 0
    return (f'step {step}/{total} ({100 * step // max(total, 1)}%) | '
            f'{rate:.1f} steps/s | loss {loss:.4g} | '
            f'ETA {eta // 60}:{eta % 60:02d}')

  def eval_end(self, *args, **kwargs):
    """Model Garden's evaluation results, also shown as progress."""
    logs = super().eval_end(*args, **kwargs)
    if self._progress:
      self._progress(f'eval at step {int(self.global_step.numpy())}: '
                     f'{script_logs.format_metrics(logs)}')
    self._record('eval', logs)
    self.last_eval = (int(self.global_step.numpy()), logs)
    return logs


def check_checkpoint_matches(trainer: base_trainer.Trainer,
                             model_dir: str) -> None:
  """Raises if model_dir's latest checkpoint was written by another model.

  Args:
    trainer: the trainer about to resume (its model built, not yet restored).
    model_dir: the run folder.

  Raises:
    ValueError: naming the model's variables that the checkpoint lacks.
  """
  latest = tf.train.latest_checkpoint(model_dir)
  if latest is None:
    return
  status = tf.train.Checkpoint(model=trainer.model).read(latest)
  try:
    status.expect_partial().assert_existing_objects_matched()
  except AssertionError as e:
    saved = {_leaf(name) for name, _ in tf.train.list_variables(latest)
             if '.ATTRIBUTES' in name and '.OPTIMIZER_SLOT' not in name and
             not name.startswith(('optimizer/', 'global_step/',
                                  'save_counter/'))}
    ours = {_leaf(v.name) for v in trainer.model.variables}
    raise ValueError(
        f'{latest} was not written by this model, and restoring it would '
        'leave part of the model untrained. The model has variables '
        f'{sorted(ours - saved)} that the checkpoint lacks; the checkpoint '
        f'has {sorted(saved - ours)} that the model lacks. Was it trained '
        'with another config (e.g. another norm)? Use a new --model_dir, or '
        f'the config that wrote it ({model_dir}/params.yaml).') from e


def _leaf(variable_name: str) -> str:
  """'model/layer-3/gn_gamma/.ATTRIBUTES/..' or 'a/gn_gamma:0' -> 'gn_gamma'."""
  return variable_name.split('/.ATTRIBUTES')[0].split(':')[0].split('/')[-1]

