r"""Trains and evaluates the project's experiments with Model Garden's trainer.

  python -m official.projects.group_norm.train \
      --experiment=resnet_gn_digits --mode=train_and_eval \
      --model_dir=/tmp/gn_digits --cpu_replicas=4

Flags are Model Garden's (`--experiment`, `--mode`, `--model_dir`,
`--config_file`, `--params_override`, `--tpu`, `--gin_file`, ...) plus
`--cpu_replicas`, `--seed`, `--deterministic` and `--log_file`. Underneath
it is Model Garden's `train_lib` on Orbit: checkpoints and resumption from
`--model_dir`, TensorBoard summaries and `params.yaml` there, and after an
evaluation `eval_metrics.json`. The strategy comes from
`runtime.distribution_strategy` (`mirrored`, `multi_worker_mirrored`, `tpu`,
`one_device`); on a machine without GPUs, `--cpu_replicas=K` splits the CPU
into K logical devices and MirroredStrategy runs one replica on each, so
per-replica batches are real:
global batch 8 on 4 replicas is 2 images per replica.

The trainer is Model Garden's with guards (trainer.py): a non-finite loss or
weights stop training before a checkpoint is written; a model_dir whose
checkpoint another model wrote is refused; `--deterministic` makes a killed and
resumed run end with the weights of an uninterrupted one. A run that fails
before its first checkpoint (bad config, data path, ...) leaves no model_dir.

The terminal shows what a person came for: one line per training loop (step,
steps/s, loss, ETA), each evaluation's metrics, and the final results. Model
Garden's full log (config, variables, checkpoints, ...) goes to `--log_file`
(default `model_dir/train.log`); absl's `--alsologtostderr` shows it on the
terminal too.
"""

import contextlib
import functools
import os
import re
import sys

from absl import app
from absl import flags
from absl import logging
import gin
import tensorflow as tf
import tf_keras

from official.common import distribute_utils
from official.common import flags as tfm_flags
from official.core import task_factory
from official.core import train_lib
from official.core import train_utils
from official.modeling import performance
from official.projects.group_norm import registry_imports  # noqa: F401 (registers the experiments)
from official.projects.group_norm import runner
from official.projects.group_norm import script_logs
from official.projects.group_norm import trainer as trainer_lib
from official.projects.group_norm.configs import common

FLAGS = flags.FLAGS
flags.DEFINE_integer(
    'seed', None,
    'Seeds Python, NumPy and TensorFlow (weights initialisation) before the '
    'model is built; unset leaves them random. Data order has its own '
    '`task.train_data.seed`.')
flags.DEFINE_bool(
    'deterministic', False,
    'Op determinism, and on resume replay the training input up to the '
    'restored step, so that a killed and resumed run ends with the weights '
    'of an uninterrupted one. Needs --seed; replaying reads the consumed '
    'examples again (cheap for small data).')
flags.DEFINE_integer(
    'cpu_replicas', 0,
    'On a machine without GPUs, split the CPU into this many logical devices '
    'and run one MirroredStrategy replica on each (0: leave devices alone).')
flags.DEFINE_string(
    'log_file', None,
    'Where Model Garden\'s full log goes (appended; a local file). Defaults '
    'to model_dir/train.log when model_dir is local; with a gs:// model_dir '
    'the log stays on the terminal. --alsologtostderr shows it there too.')


def configure_cpu_replicas(cpu_replicas: int) -> None:
  """Splits the first CPU into `cpu_replicas` logical devices, once.

  Each replica's ops also get their share of the cores (intra-op threads =
  cores // replicas, at least 1): the replicas run side by side, and with
  every op spread over every core they only contend (2 cores, 2 replicas:
  GN 1.65x and BN 1.91x the steps/s at 2 images per replica, GN 1.23x at 32;
  benchmarks/results/trainer.json).
  $TF_NUM_INTRAOP_THREADS, if set, wins.

  Raises:
    ValueError: if TensorFlow already runs with a different split.
  """
  if cpu_replicas <= 1:
    return
  cpu = tf.config.list_physical_devices('CPU')[0]
  try:
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * cpu_replicas)
    if 'TF_NUM_INTRAOP_THREADS' not in os.environ:
      tf.config.threading.set_intra_op_parallelism_threads(
          max(1, (os.cpu_count() or 1) // cpu_replicas))
  except RuntimeError:  # Devices already initialised (e.g. in tests).
    pass
  have = len(tf.config.list_logical_devices('CPU'))
  if have != cpu_replicas:
    raise ValueError(f'--cpu_replicas={cpu_replicas} needs the CPU split '
                     f'before TensorFlow starts; it already runs with {have} '
                     'logical CPU devices.')


def build_strategy(params, cpu_replicas: int = 0) -> tf.distribute.Strategy:
  """The strategy `params.runtime` asks for, over logical CPUs if so told."""
  runtime = params.runtime
  if (cpu_replicas > 1 and runtime.distribution_strategy == 'mirrored' and
      not tf.config.list_physical_devices('GPU')):
    configure_cpu_replicas(cpu_replicas)
    devices = [f'/cpu:{i}' for i in range(cpu_replicas)]
    # Not the default collective all-reduce: every new MirroredStrategy
    # restarts its collective instance keys, so a second run in the same
    # process (tests, notebooks) meets the first's stale instances and fails
    # with "Shape mismatch in the collective instance". On one CPU the
    # reduction to one device costs nothing more.
    return tf.distribute.MirroredStrategy(
        devices, cross_device_ops=tf.distribute.ReductionToOneDevice())
  return distribute_utils.get_distribution_strategy(
      distribution_strategy=runtime.distribution_strategy,
      all_reduce_alg=runtime.all_reduce_alg,
      num_gpus=runtime.num_gpus,
      tpu_address=runtime.tpu)


def run(params, model_dir: str, mode: str, cpu_replicas: int = 0,
        run_post_eval: bool = True, seed=None, deterministic: bool = False,
        progress=None, model_dir_is_new=None):
  """Trains and/or evaluates; returns `(model, eval_logs)` as train_lib does.

  Args:
    params: the experiment config.
    model_dir: the run folder: checkpoints, summaries, params.yaml and, after
      an evaluation, eval_metrics.json. A run that fails before its first
      checkpoint removes the folder again if it created it.
    mode: 'train', 'eval', 'train_and_eval', ...
    cpu_replicas: see `--cpu_replicas`.
    run_post_eval: evaluate once more at the end and return the metrics.
    seed: seeds Python, NumPy and TensorFlow before the model is built.
    deterministic: op determinism, and a resumed run replays its input to the
      restored step (see `GuardedTrainer`), so that kill-and-resume gives the
      weights of an uninterrupted run. Needs `seed`.
    progress: if set (e.g. `print`), receives a line per training loop and
      per evaluation.
    model_dir_is_new: whether model_dir is this run's own (then a failure
      before the first checkpoint removes it); None judges it on entry. The
      script passes True when it made the folder only for its log file.
  """
  if deterministic:
    if seed is None:
      raise ValueError('deterministic=True (--deterministic) needs a seed '
                       '(--seed).')
    tf.config.experimental.enable_op_determinism()
  if seed is not None:
    tf_keras.utils.set_random_seed(seed)
  if model_dir_is_new is None:
    model_dir_is_new = not tf.io.gfile.exists(model_dir)
  with _removed_if_no_checkpoint(model_dir, model_dir_is_new):
    if 'train' in mode:
      train_utils.serialize_config(params, model_dir)
    precision = params.runtime.mixed_precision_dtype
    if precision:
      # Model Garden spells these 'bfloat16' / 'float16'; Keras 'mixed_...'.
      performance.set_mixed_precision_policy(precision.replace('mixed_', ''))
    strategy = build_strategy(params, cpu_replicas)
    batch = params.task.train_data.global_batch_size
    placement = (f'{strategy.num_replicas_in_sync} replica(s) of '
                 f'{type(strategy).__name__}; global batch {batch} = '
                 f'{batch / strategy.num_replicas_in_sync} per replica')
    logging.info('Running on %s.', placement)
    if progress:
      progress(f'{mode} in {model_dir} on {placement}.')
    with strategy.scope():
      task = task_factory.get_task(params.task, logging_dir=model_dir)
      trainer = train_utils.create_trainer(
          params, task, train='train' in mode,
          evaluate='eval' in mode or run_post_eval,
          checkpoint_exporter=train_lib.maybe_create_best_ckpt_exporter(
              params, model_dir),
          trainer_cls=functools.partial(
              trainer_lib.GuardedTrainer, replay_input=deterministic,
              progress=progress, history_dir=(
                  model_dir if script_logs.is_local(model_dir) else None)))
    trainer_lib.check_checkpoint_matches(trainer, model_dir)
    # train_and_eval ends with an evaluation at the last step: Model Garden's
    # post-evaluation would evaluate the same weights again.
    post_eval_in_experiment = run_post_eval and mode != 'train_and_eval'
    try:
      model, eval_logs = train_lib.run_experiment(
          distribution_strategy=strategy, task=task, mode=mode, params=params,
          model_dir=model_dir, run_post_eval=post_eval_in_experiment,
          trainer=trainer)
      if run_post_eval and not post_eval_in_experiment:
        eval_logs = _final_evaluation(trainer, strategy, params)
    except tf.errors.DataLossError as e:
      # The first 'DATA_LOSS: corrupted record at N' line, not the graph dump.
      found = re.search(r'DATA_LOSS:\s*([^\n\[]+)', e.message)
      reason = (found.group(1) if found else e.message).strip()
      raise ValueError(
          f'Corrupt input data ({reason}) in '
          f'task.train_data.input_path={params.task.train_data.input_path!r} '
          'or task.validation_data.input_path='
          f'{params.task.validation_data.input_path!r}.') from e
  if eval_logs:
    runner.write_eval_metrics(model_dir, eval_logs,
                              trainer.global_step.numpy())
  return model, eval_logs


def _final_evaluation(trainer, strategy, params):
  """The evaluation at the trainer's last step: the latest, or a new one.

  A resumed run that had already finished trains and evaluates nothing, so
  it is evaluated here.
  """
  step = int(trainer.global_step.numpy())
  if trainer.last_eval is not None and trainer.last_eval[0] == step:
    return trainer.last_eval[1]
  with strategy.scope():
    return trainer.evaluate(tf.convert_to_tensor(
        params.trainer.validation_steps, dtype=tf.int32))


@contextlib.contextmanager
def _removed_if_no_checkpoint(model_dir: str, is_new: bool):
  """Removes model_dir if it is new and the block fails before a checkpoint.

  A run that fails on bad input leaves nothing behind (its error is on the
  terminal); a run that fails later keeps its checkpoints (the good ones: see
  `GuardedTrainer`) and its log.
  """
  try:
    yield
  except BaseException:
    if is_new and tf.io.gfile.exists(model_dir) and (
        tf.train.latest_checkpoint(model_dir) is None):
      tf.io.gfile.rmtree(model_dir)
    raise


def main(_) -> None:
  """Trains and/or evaluates the flags' experiment; prints the results."""
  model_dir_is_new = not tf.io.gfile.exists(FLAGS.model_dir)
  log_file = FLAGS.log_file or (
      os.path.join(FLAGS.model_dir, 'train.log')
      if script_logs.is_local(FLAGS.model_dir) else None)
  if FLAGS.logtostderr:
    log_file = None
  with _removed_if_no_checkpoint(FLAGS.model_dir, model_dir_is_new), (
      script_logs.terminal_and_log(log_file)) as show:
    gin.parse_config_files_and_bindings(FLAGS.gin_file, FLAGS.gin_params)
    common.get_exp_config(FLAGS.experiment)  # A clear unknown-name error.
    params = train_utils.parse_configuration(FLAGS)
    if log_file:
      show(f'{FLAGS.experiment}: Model Garden\'s full log goes to '
           f'{log_file}.')
    _, eval_logs = run(params, FLAGS.model_dir, FLAGS.mode,
                       FLAGS.cpu_replicas, seed=FLAGS.seed,
                       deterministic=FLAGS.deterministic, progress=show,
                       model_dir_is_new=model_dir_is_new)
    train_utils.save_gin_config(FLAGS.mode, FLAGS.model_dir)
    if eval_logs:
      show(f'Final evaluation: {script_logs.format_metrics(eval_logs)}')
      if 'accuracy' in eval_logs:
        show(f'Validation accuracy: {float(eval_logs["accuracy"]):.4f}')


def main_and_exit(argv) -> None:
  """`main`, then an exit that skips TensorFlow's teardown.

  Everything is written when `main` returns. With TF 2.20 on logical CPU
  replicas, destroying the distributed input iterators at interpreter exit
  can deadlock (a tf.data thread pool waits for a thread blocked on a full
  device buffer), leaving a finished run's process alive forever.
  """
  main(argv)
  logging.flush()
  sys.stdout.flush()
  sys.stderr.flush()
  os._exit(0)


if __name__ == '__main__':
  tfm_flags.define_flags()
  flags.mark_flags_as_required(['experiment', 'mode', 'model_dir'])
  app.run(main_and_exit)
