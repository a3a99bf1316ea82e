"""The scripts' terminal and log file."""

import os
import subprocess
import sys

import numpy as np
import pytest

from official.projects.group_norm import script_logs


def test_remote_model_dirs_keep_the_log_on_the_terminal(capsys):
  assert script_logs.is_local('runs/a') and script_logs.is_local('/tmp/a')
  assert not script_logs.is_local('gs://bucket/run')
  with script_logs.terminal_and_log(None) as show:
    show('step 1/2')
    print('library print')
  assert capsys.readouterr().out == 'step 1/2\nlibrary print\n'


def test_format_metrics_keeps_the_scalars():
  assert script_logs.format_metrics({'accuracy': np.float32(0.96944),
                                'confusion': np.zeros((2, 2)),
                                'loss': 0.25}) == 'accuracy 0.9694, loss 0.25'


_NATIVE_STDERR_SCRIPT = '''
import os, sys
from official.projects.group_norm import script_logs
with script_logs.terminal_and_log(sys.argv[1]) as show:
  show('progress line')
  os.write(2, b'native log line\\n')  # As TensorFlow's C++ logs write.
  print('python warning', file=sys.stderr)
  print('library print')
os.write(2, b'after the run\\n')
'''


@pytest.mark.slow  # A child process: the terminal's descriptors are real.
def test_native_stderr_goes_to_the_log_and_python_stderr_stays(tmp_path):
  log = tmp_path / 'train.log'
  result = subprocess.run(
      [sys.executable, '-c', _NATIVE_STDERR_SCRIPT, str(log)],
      capture_output=True, text=True, check=True,
      cwd=os.path.join(os.path.dirname(__file__), *['..'] * 4))
  assert result.stdout == 'progress line\n'
  assert 'python warning' in result.stderr
  assert 'after the run' in result.stderr
  assert 'native log line' not in result.stderr
  logged = log.read_text()
  assert 'native log line' in logged and 'library print' in logged
