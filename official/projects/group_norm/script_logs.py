"""How the project's scripts talk: progress on the terminal, the rest to a log.

`train.py` and `export_saved_model.py` run inside `terminal_and_log`: Model
Garden's full log (absl and TensorFlow records, library prints, native
stderr) goes to a local file, and the terminal shows the lines the scripts
`show` (progress, evaluations, results), with `format_metrics` for metrics.
"""

import contextlib
import logging as std_logging
import os
import sys
from typing import Optional, TextIO

from absl import logging

from official.projects.group_norm import runner


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
  metrics = runner.scalar_metrics(logs)
  return ', '.join(f'{k} {v:.4g}' for k, v in metrics.items())


