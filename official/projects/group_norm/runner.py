"""Child runs of train.py and their records: metrics, history, results.

Studies (sweeps, benchmarks) train each configuration in its own process:
`train_command` builds the command line, `run_train` runs it with its output
in a log file, times it and reads the evaluation that `train.py` wrote with
`write_eval_metrics` and the curves it kept with `append_history`.
`ResultsFile` is a study's committed results and, at the same time, its
resume state: a fresh clone that reruns the study's command continues from
the runs recorded there instead of repeating them; `read_rows` reads any
study's rows, and `results_dir` says where they go.

Each study keeps its own resume and failure policy; this module only runs,
times and records. The run files go through `tf.io.gfile`, as model_dirs may
be on GCS. (How the scripts show progress and log: `script_logs.py`.)
"""

import contextlib
import dataclasses
import fcntl
import json
import os
import subprocess
import sys
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

import numpy as np
import tensorflow as tf

EVAL_METRICS_FILE = 'eval_metrics.json'
TRAIN_MODULE = 'official.projects.group_norm.train'


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


HISTORY_FILE = 'history.json'


def append_history(model_dir: str, entry: Dict) -> None:
  """Adds a training loop's or an evaluation's scalars to the run's history.

  `model_dir/history.json` is a list of {'step', 'kind' ('train' or 'eval'),
  metric: value}; an entry replaces those of the same kind at or after its
  step, so a resumed run rewrites what it repeats.
  """
  history = read_history(model_dir)
  history = [e for e in history
             if e['kind'] != entry['kind'] or e['step'] < entry['step']]
  _write_json_atomically(os.path.join(model_dir, HISTORY_FILE),
                         history + [entry])


def read_history(model_dir: str) -> List[Dict]:
  """The entries `append_history` wrote (none if absent)."""
  path = os.path.join(model_dir, HISTORY_FILE)
  if not tf.io.gfile.exists(path):
    return []
  with tf.io.gfile.GFile(path) as f:
    return json.load(f)


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
    history: Its `history.json` (training loops and evaluations).
  """
  returncode: int
  wall_s: float
  metrics: Optional[Dict]
  log_path: str
  history: List[Dict] = dataclasses.field(default_factory=list)

  @property
  def ok(self) -> bool:
    """Whether the run exited cleanly and wrote its metrics."""
    return self.returncode == 0 and self.metrics is not None

  def check(self, what: str) -> 'RunResult':
    """This result, if the run is `ok`.

    Raises:
      RuntimeError: '<what> failed (exit N): <its last error line>'.
    """
    if not self.ok:
      raise RuntimeError(f'{what} failed (exit {self.returncode}): '
                         f'{self.last_error()}')
    return self

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
                   metrics=read_eval_metrics(model_dir), log_path=log_path,
                   history=read_history(model_dir))


RESULTS_FILE = 'results.json'


def results_dir(results_dir: Optional[str], output_dir: str) -> str:
  """Where a study's results go: `results_dir`, else its output folder."""
  return results_dir or output_dir


@contextlib.contextmanager
def exclusive(path: str, wait: bool = False) -> Iterator[bool]:
  """Yields whether this process got `path`'s lock, held for the block.

  Two studies sharing a results file take each run this way, so that the
  second skips the run the first is training instead of training it too
  (and deleting the first's folder). The lock dies with its process: a
  killed study leaves no stale claim. With `wait`, it blocks until the
  holder lets go (a run this process needs the result of) and yields True.
  """
  os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
  with open(path, 'w') as f:
    try:
      fcntl.flock(f, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
      yield False
      return
    yield True


def run_lock(output_dir: str, run_name: str, wait: bool = False):
  """`exclusive` on `<output_dir>/locks/<run_name>.lock`: one run's lock."""
  return exclusive(os.path.join(output_dir, 'locks', f'{run_name}.lock'),
                   wait)


@contextlib.contextmanager
def take_run(output_dir: str, run_name: str, results: 'ResultsFile',
             done: Callable[[], bool]) -> Iterator[str]:
  """Decides, under the run's lock, who trains one run of a shared study.

  Several processes of one study command share its results file; each run
  is trained by whichever takes its lock first, and only while unrecorded.
  The results are re-read under the lock, so a run another process recorded
  meanwhile is not trained twice.

  Args:
    output_dir: The study's run folder (its locks go under `locks/`).
    run_name: The run's name, unique in the study.
    results: The study's results file.
    done: Whether `results` (just re-read) records the run.

  Yields:
    'done' if recorded, 'elsewhere' if another process holds the lock (it is
    training the run), or 'mine': train it inside the block, which holds the
    lock.
  """
  with run_lock(output_dir, run_name) as mine:
    results.reload()
    yield 'done' if done() else 'mine' if mine else 'elsewhere'


def pilot_folder(parent: str, name: str) -> str:
  """`<parent>/pilot/<name>`: where a study's pilot setting keeps its files.

  Raises:
    ValueError: unless `name` is a plain folder name (a pilot must not write
      over the counted results beside it).
  """
  if not name or os.sep in name or name.startswith('.'):
    raise ValueError(f'A pilot name is a plain folder name; received {name!r}.')
  return os.path.join(parent, 'pilot', name)


def read_rows(results_dir: str) -> List[Dict]:
  """The rows recorded in `results_dir`'s results file (none if absent)."""
  path = os.path.join(results_dir, RESULTS_FILE)
  if not os.path.exists(path):
    return []
  with open(path) as f:
    return list(json.load(f)['rows'])


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

  def reload(self) -> None:
    """Reads the rows on disk again (another process may have put some)."""
    if os.path.exists(self.path):  # Written atomically: never half a file.
      with open(self.path) as f:
        self.rows = list(json.load(f)['rows'])

  def put(self, row: Dict) -> None:
    """Records `row` (replacing the one of the same key) and writes the file.

    The rows on disk are read again under a lock first, so that two studies
    sharing one results file (say, two sweeps over other lines, run side by
    side) keep each other's rows.
    """
    os.makedirs(os.path.dirname(self.path) or '.', exist_ok=True)
    with open(self.path + '.lock', 'w') as lock:
      fcntl.flock(lock, fcntl.LOCK_EX)
      self.reload()
      self.rows = [r for r in self.rows if self.key(r) != self.key(row)]
      self.rows.append(row)
      _write_json_atomically(self.path, {'settings': self.settings,
                                         'rows': self.rows})
