"""The child-process runner, the eval-metrics file and the results file."""

import json
import os
import sys

import numpy as np
import pytest

from official.projects.group_norm import runner


def test_write_eval_metrics_keeps_scalars_and_the_step(tmp_path):
  metrics = runner.write_eval_metrics(
      str(tmp_path), {'accuracy': np.float32(0.5),
                      'confusion': np.zeros((2, 2))}, 7)
  assert metrics == {'accuracy': 0.5, 'global_step': 7}
  with open(tmp_path / runner.EVAL_METRICS_FILE) as f:
    assert json.load(f) == metrics
  assert os.listdir(tmp_path) == [runner.EVAL_METRICS_FILE]
  assert runner.read_eval_metrics(str(tmp_path)) == metrics
  assert runner.read_eval_metrics(str(tmp_path / 'none')) is None


def test_train_command():
  command = runner.train_command(
      'resnet_gn_digits', '/runs/a', cpu_replicas=4, seed=3,
      config_files=['x.yaml', 'y.yaml'], params_override='a.b=1')
  assert command == [
      sys.executable, '-m', 'official.projects.group_norm.train',
      '--experiment=resnet_gn_digits', '--mode=train_and_eval',
      '--model_dir=/runs/a', '--cpu_replicas=4', '--seed=3',
      '--config_file=x.yaml', '--config_file=y.yaml', '--params_override=a.b=1']
  assert runner.train_command('e', 'd', mode='eval')[3:] == [
      '--experiment=e', '--mode=eval', '--model_dir=d']


def test_run_train_times_logs_and_reads_the_metrics(tmp_path):
  # A stand-in for train.py that writes its metrics as train.py does.
  script = ('import sys; from official.projects.group_norm import runner; '
            'print("progress line"); '
            'runner.write_eval_metrics(sys.argv[1], {"accuracy": 0.9}, 5)')
  result = runner.run_train([sys.executable, '-c', script, str(tmp_path)],
                            str(tmp_path))
  assert result.ok and result.returncode == 0 and result.wall_s > 0
  assert result.metrics == {'accuracy': 0.9, 'global_step': 5}
  with open(result.log_path) as f:
    assert f.read() == 'progress line\n'

  failing = runner.run_train(
      [sys.executable, '-c', 'raise ValueError("bad config")'],
      str(tmp_path / 'failed'))
  assert not failing.ok and failing.returncode == 1
  assert failing.last_error() == 'ValueError: bad config'


def test_results_file_is_the_resume_state(tmp_path):
  path = str(tmp_path / 'docs' / 'results.json')
  settings = {'experiment': 'e', 'replicas': 2}
  results = runner.ResultsFile(path, ['norm', 'seed'], settings)
  assert results.get(norm='group_norm', seed=0) is None
  results.put({'norm': 'group_norm', 'seed': 0, 'error': 0.5})
  results.put({'norm': 'group_norm', 'seed': 1, 'error': 0.4})
  results.put({'norm': 'group_norm', 'seed': 0, 'error': 0.3})  # Replaces.
  # A fresh clone: only the committed file is there.
  again = runner.ResultsFile(path, ['norm', 'seed'], settings)
  assert again.get(norm='group_norm', seed=0) == {
      'norm': 'group_norm', 'seed': 0, 'error': 0.3}
  assert len(again.rows) == 2
  with open(path) as f:
    assert json.load(f)['settings'] == settings
  with pytest.raises(ValueError, match=r"holds results made with settings "
                     r"\{'experiment': 'e', 'replicas': 2\}; this run has "
                     r"\{'experiment': 'e', 'replicas': 4\}"):
    runner.ResultsFile(path, ['norm', 'seed'], {**settings, 'replicas': 4})


def test_two_writers_of_one_results_file_keep_each_others_rows(tmp_path):
  path = str(tmp_path / 'results.json')
  first = runner.ResultsFile(path, ['cell'], {'study': 'x'})
  second = runner.ResultsFile(path, ['cell'], {'study': 'x'})  # Side by side.
  first.put({'cell': 'a', 'error': 0.1})
  second.put({'cell': 'b', 'error': 0.2})
  first.put({'cell': 'a', 'error': 0.3})  # Replaces its own row only.
  reopened = runner.ResultsFile(path, ['cell'], {'study': 'x'})
  assert reopened.rows == [{'cell': 'b', 'error': 0.2},
                           {'cell': 'a', 'error': 0.3}]


def test_read_rows_and_the_results_folder():
  assert runner.results_dir(None, 'runs/x') == 'runs/x'
  assert runner.results_dir('docs/x', 'runs/x') == 'docs/x'


def test_history_keeps_one_entry_per_kind_and_step(tmp_path):
  model_dir = str(tmp_path)
  assert runner.read_history(model_dir) == []
  runner.append_history(model_dir, {'kind': 'train', 'step': 10, 'loss': 2.0})
  runner.append_history(model_dir, {'kind': 'eval', 'step': 10, 'acc': 0.5})
  runner.append_history(model_dir, {'kind': 'train', 'step': 20, 'loss': 1.0})
  # A resumed run repeats step 20: its entry replaces the first one's.
  runner.append_history(model_dir, {'kind': 'train', 'step': 20, 'loss': 0.9})
  assert runner.read_history(model_dir) == [
      {'kind': 'train', 'step': 10, 'loss': 2.0},
      {'kind': 'eval', 'step': 10, 'acc': 0.5},
      {'kind': 'train', 'step': 20, 'loss': 0.9}]


def test_a_pilot_folder_is_a_plain_name_under_pilot():
  assert runner.pilot_folder('docs', 'pre20ep') == os.path.join(
      'docs', 'pilot', 'pre20ep')
  for name in ('', '.', '..', '../x', 'a/b', '.hidden'):
    with pytest.raises(ValueError, match='plain folder name'):
      runner.pilot_folder('docs', name)


def test_check_passes_an_ok_run_and_names_a_failed_ones_error(tmp_path):
  log = tmp_path / 'console.log'
  log.write_text('step 1\nValueError: no such file\nexiting\n')
  ok = runner.RunResult(0, 1.0, {'global_step': 3}, str(log))
  assert ok.check('Pretraining') is ok
  for failed in (runner.RunResult(1, 1.0, None, str(log)),
                 runner.RunResult(0, 1.0, None, str(log))):  # No metrics.
    with pytest.raises(RuntimeError, match=r'^Pretraining failed \(exit '
                       r'\d\): ValueError: no such file$'):
      failed.check('Pretraining')


def test_exclusive_yields_false_while_another_holds_the_lock(tmp_path):
  path = str(tmp_path / 'locks' / 'cell.lock')
  with runner.exclusive(path) as first:
    with runner.exclusive(path) as second:
      assert (first, second) == (True, False)
  with runner.exclusive(path) as again:
    assert again  # Released with the block.


def test_take_run_trains_a_run_once_across_processes(tmp_path):
  path = str(tmp_path / 'results.json')
  mine = runner.ResultsFile(path, ['name'], {'study': 'x'})
  other = runner.ResultsFile(path, ['name'], {'study': 'x'})

  def done():
    return mine.get(name='a') is not None

  with runner.take_run(str(tmp_path), 'a', mine, done) as first:
    with runner.take_run(str(tmp_path), 'a', other, done) as second:
      assert (first, second) == ('mine', 'elsewhere')
    other.put({'name': 'a', 'error': 0.1})  # Recorded by the other process.
  # Re-read under the lock: recorded elsewhere is done here too.
  with runner.take_run(str(tmp_path), 'a', mine, done) as again:
    assert again == 'done'
  assert os.path.exists(tmp_path / 'locks' / 'a.lock')
