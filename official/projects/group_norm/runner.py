"""Running the project's scripts: train.py as a child, logs, metrics, results.

Studies (sweeps, benchmarks) train each configuration in its own process:
`train_command` builds the command line, `run_train` runs it with its output
in a log file, times it and reads the evaluation that `train.py` wrote with
`write_eval_metrics`. `ResultsFile` is a study's committed results and, at the
same time, its resume state: a fresh clone that reruns the study's command
continues from the runs recorded there instead of repeating them.

Each study keeps its own resume and failure policy; this module only runs,
times and records. `terminal_and_log` is how the scripts send Model
Garden's full log to a file, so that their terminals show progress and
results. The eval-metrics file goes through `tf.io.gfile`, as model_dirs may
be on GCS.
"""

import contextlib
import dataclasses
import fcntl
import json
import logging as std_logging
import os
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional, Sequence, TextIO

from absl import logging
import numpy as np
import tensorflow as tf

EVAL_METRICS_FILE = 'eval_metrics.json'
TRAIN_MODULE = 'official.projects.group_norm.train'


def log_to_file(path: str) -> TextIO:
  """Sends absl's and TensorFlow's log records to `path`, appended.

  The terminal then shows only records at absl's --stderrthreshold and
  above, or all of them with --alsologtostderr, as absl's own log files do.

  Returns:
    The log file's stream, open for the rest of the process.
  """
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  stream = open(path, 'a')  # Open for the rest of the process.
  logging.get_absl_handler().python_handler.setStream(stream)
  # TensorFlow's logger gets its own stderr handler when it is set up before
  # absl's; without it, its records reach absl's handler through the root.
  tf_logger = std_logging.getLogger('tensorflow')
  for handler in list(tf_logger.handlers):
    tf_logger.removeHandler(handler)
  tf_logger.propagate = True
  return stream


def is_local(path: str) -> bool:
  """Whether `path` is on this machine (not gs://, s3://, ...)."""
  return '://' not in path


@contextlib.contextmanager
def terminal_and_log(log_path: Optional[str]):
  """The scripts' output: progress to the terminal, the rest to a log file.

  Inside, absl's and TensorFlow's records and the prints of libraries (Orbit
  prints its records) go to `log_path`; the yielded function prints a line to
  the terminal. With no `log_path` everything stays on the terminal.

  Args:
    log_path: A local file, appended to; None for no log file.

  Yields:
    `show(line)`, printing a line to the terminal.
  """
  terminal = sys.stdout

  def show(line: str) -> None:
    print(line, file=terminal, flush=True)

  if log_path is None:
    yield show
    return
  stream = log_to_file(log_path)
  with contextlib.redirect_stdout(stream), _native_stderr_to(stream):
    yield show


@contextlib.contextmanager
def _native_stderr_to(stream: TextIO):
  """Sends what native code writes to file descriptor 2 to `stream`.

  TensorFlow's C++ and XLA's logs (e.g. "Compiled cluster using XLA!", which
  the op's own compilation triggers once per process) write to descriptor 2
  whatever TF_CPP_MIN_LOG_LEVEL says. Python's `sys.stderr` (warnings,
  tracebacks) stays on the terminal through a copy of the descriptor. Where
  stderr has no descriptor (e.g. under pytest's capture), nothing changes.
  """
  try:
    fd = sys.stderr.fileno()
    stream.flush()
    log_fd = stream.fileno()
  except (AttributeError, OSError, ValueError):  # No real descriptor.
    yield
    return
  sys.stderr.flush()
  saved = os.dup(fd)
  python_stderr = sys.stderr
  sys.stderr = os.fdopen(os.dup(saved), 'w', buffering=1)
  os.dup2(log_fd, fd)
  try:
    yield
  finally:
    sys.stderr.flush()
    sys.stderr.close()
    sys.stderr = python_stderr
    os.dup2(saved, fd)
    os.close(saved)


def format_metrics(logs) -> str:
  """'accuracy 0.9694, top_5_accuracy 1, ...': scalar metrics on one line."""
  return ', '.join(f'{k} {v:.4g}' for k, v in scalar_metrics(logs).items())


def scalar_metrics(logs) -> Dict[str, float]:
  """The scalar entries of evaluation logs as floats (no confusion matrices)."""
  return {k: float(v) for k, v in logs.items() if np.ndim(v) == 0}


def _write_json_atomically(path: str, data: Any) -> None:
  """Writes JSON so that readers never see half a file (local or gs://)."""
  tmp = f'{path}.tmp{os.getpid()}'
  with tf.io.gfile.GFile(tmp, 'w') as f:
    json.dump(data, f, indent=1, sort_keys=isinstance(data, dict))
    f.write('\n')
  tf.io.gfile.rename(tmp, path, overwrite=True)


def write_eval_metrics(model_dir: str, logs, global_step: int) -> Dict:
  """Writes the final evaluation's scalars to `model_dir/eval_metrics.json`.

  Args:
    model_dir: The run folder.
    logs: Evaluation logs (name -> value); non-scalars are left out.
    global_step: The step the metrics were measured at.

  Returns:
    The written dict: the scalar metrics and `global_step`.
  """
  metrics = {**scalar_metrics(logs), 'global_step': int(global_step)}
  _write_json_atomically(os.path.join(model_dir, EVAL_METRICS_FILE), metrics)
  return metrics


def read_eval_metrics(model_dir: str) -> Optional[Dict]:
  """The metrics a run wrote with `write_eval_metrics`, or None."""
  path = os.path.join(model_dir, EVAL_METRICS_FILE)
  if not tf.io.gfile.exists(path):
    return None
  with tf.io.gfile.GFile(path) as f:
    return json.load(f)


def train_command(experiment: str, model_dir: str, *,
                  mode: str = 'train_and_eval', cpu_replicas: int = 0,
                  seed: Optional[int] = None,
                  config_files: Sequence[str] = (),
                  params_override: str = '') -> List[str]:
  """The `train.py` command line of one run (this interpreter, as a module).

  Args:
    experiment: A registered experiment.
    model_dir: The run folder.
    mode: 'train', 'eval', 'train_and_eval', ...
    cpu_replicas: `--cpu_replicas`; 0 leaves the devices alone.
    seed: `--seed`, if any.
    config_files: `--config_file` YAMLs, applied in order.
    params_override: `--params_override`, applied last.

  Returns:
    The argv list.
  """
  command = [sys.executable, '-m', TRAIN_MODULE, f'--experiment={experiment}',
             f'--mode={mode}', f'--model_dir={model_dir}']
  if cpu_replicas:
    command.append(f'--cpu_replicas={cpu_replicas}')
  if seed is not None:
    command.append(f'--seed={seed}')
  command += [f'--config_file={path}' for path in config_files]
  if params_override:
    command.append(f'--params_override={params_override}')
  return command


@dataclasses.dataclass
class RunResult:
  """What one child run gave.

  Attributes:
    returncode: The process's exit status.
    wall_s: Its wall time, seconds.
    metrics: Its `eval_metrics.json`, or None if it wrote none.
    log_path: The file holding its stdout and stderr (tracebacks included).
  """
  returncode: int
  wall_s: float
  metrics: Optional[Dict]
  log_path: str

  @property
  def ok(self) -> bool:
    """Whether the run exited cleanly and wrote its metrics."""
    return self.returncode == 0 and self.metrics is not None

  def last_error(self) -> str:
    """The last log line that names an error, for a table or a message."""
    with open(self.log_path, errors='replace') as f:
      lines = [line.strip() for line in f if 'Error' in line]
    return lines[-1][:200] if lines else f'see {self.log_path}'


def run_train(command: Sequence[str], model_dir: str,
              log_name: str = 'console.log') -> RunResult:
  """Runs a `train_command` to its end, its output appended to a log file.

  train.py writes Model Garden's full log to `model_dir/train.log` itself;
  its terminal output (progress, results, any traceback) goes to `log_name`.

  Args:
    command: The argv of the run.
    model_dir: The run's folder (made first, so that a run failing early
      keeps its logs); train.py's files go there too.
    log_name: The file in `model_dir` that takes the run's stdout and stderr.

  Returns:
    The run's `RunResult`.
  """
  os.makedirs(model_dir, exist_ok=True)
  log_path = os.path.join(model_dir, log_name)
  start = time.monotonic()
  with open(log_path, 'a') as log:
    returncode = subprocess.call(list(command), stdout=log,
                                 stderr=subprocess.STDOUT)
  return RunResult(returncode=returncode,
                   wall_s=round(time.monotonic() - start, 1),
                   metrics=read_eval_metrics(model_dir), log_path=log_path)


class ResultsFile:
  """A study's results JSON: its committed record and its resume state.

  The file holds `{"settings": {...}, "rows": [...]}`. Rows are identified by
  `key_fields`; `put` replaces the row of the same key and rewrites the file
  at once, so an interrupted study loses at most the run in progress. Opening
  a file recorded with other settings raises: mixing runs made under another
  protocol would make the table lie.
  """

  def __init__(self, path: str, key_fields: Sequence[str],
               settings: Dict[str, Any]):
    """Opens (or starts) the results at `path`.

    Args:
      path: The JSON file; its folder is made if missing.
      key_fields: The row fields that identify a run.
      settings: What every row was made with (experiment, replicas, ...).

    Raises:
      ValueError: if the file was recorded with other settings.
    """
    self.path = path
    self.key_fields = tuple(key_fields)
    self.settings = dict(settings)
    self.rows: List[Dict] = []
    if os.path.exists(path):
      with open(path) as f:
        recorded = json.load(f)
      if recorded.get('settings') != self.settings:
        raise ValueError(
            f'{path} holds results made with settings '
            f'{recorded.get("settings")}; this run has {self.settings}. Use '
            'another results file (or output folder), or the same settings.')
      self.rows = list(recorded['rows'])

  def key(self, row: Dict) -> tuple:
    """The values of the key fields of `row`."""
    return tuple(row[k] for k in self.key_fields)

  def get(self, **key) -> Optional[Dict]:
    """The recorded row with these key fields' values, or None."""
    wanted = tuple(key[k] for k in self.key_fields)
    return next((r for r in self.rows if self.key(r) == wanted), None)

  def put(self, row: Dict) -> None:
    """Records `row` (replacing the one of the same key) and writes the file.

    The rows on disk are read again under a lock first, so that two studies
    sharing one results file (say, two sweeps over other lines, run side by
    side) keep each other's rows.
    """
    os.makedirs(os.path.dirname(self.path) or '.', exist_ok=True)
    with open(self.path + '.lock', 'w') as lock:
      fcntl.flock(lock, fcntl.LOCK_EX)
      if os.path.exists(self.path):
        with open(self.path) as f:
          self.rows = list(json.load(f)['rows'])
      self.rows = [r for r in self.rows if self.key(r) != self.key(row)]
      self.rows.append(row)
      _write_json_atomically(self.path, {'settings': self.settings,
                                         'rows': self.rows})
