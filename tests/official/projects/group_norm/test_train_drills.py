"""Reliability drills on the training script, in real processes on loopback.

- Kill and resume: SIGKILL after the first checkpoint, restart with the same
  --model_dir: training continues from that step and, with --deterministic,
  ends with exactly the weights of an uninterrupted run.
- Two workers: MultiWorkerMirroredStrategy over two local processes matches a
  single-process MirroredStrategy run with the same global batch and replica
  count (GN makes each example's gradient independent of which replica sees
  it, and the single unshuffled file is split by record across workers).
"""

import contextlib
import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
import yaml

from tests.official.projects.group_norm import helpers

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))))
TIMEOUT_S = 300


def _config_file(tmp_path, data_dir, name, **trainer):
  config = {
      'task': {
          'train_data': {
              'input_path': os.path.join(data_dir, 'train.tfrecord'),
              'global_batch_size': 4, 'shuffle_buffer_size': 1},
          'validation_data': {
              'input_path': os.path.join(data_dir, 'validation.tfrecord')},
      },
      'trainer': {'summary_interval': 1000, **trainer},
  }
  path = tmp_path / f'{name}.yaml'
  path.write_text(yaml.safe_dump(config))
  return str(path)


@contextlib.contextmanager
def _processes():
  """Yields a list to add Popen objects to; kills what is left on exit."""
  started = []
  try:
    yield started
  finally:
    for process in started:
      if process.poll() is None:
        process.kill()
      process.wait()


def _start(started, model_dir, config_file, log_path, *flags, env=None):
  command = [sys.executable, '-m', 'official.projects.group_norm.train',
             '--experiment=resnet_gn_digits', '--mode=train',
             f'--model_dir={model_dir}', f'--config_file={config_file}',
             '--seed=0', *flags]
  log = open(log_path, 'w')
  process = subprocess.Popen(command, cwd=REPO, stdout=log,
                             stderr=subprocess.STDOUT,
                             env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '2',
                                  **(env or {})})
  process.log_path = log_path
  started.append(process)
  return process


def _finish(process):
  returncode = process.wait(timeout=TIMEOUT_S)
  with open(process.log_path) as f:
    output = f.read()
  assert returncode == 0, output[-3000:]
  return output


@pytest.mark.slow
def test_kill_and_resume_ends_with_the_uninterrupted_weights(data_dir,
                                                             tmp_path):
  config = _config_file(tmp_path, data_dir, 'resume', train_steps=30,
                        steps_per_loop=5, checkpoint_interval=5)
  flags = ('--cpu_replicas=2', '--deterministic')
  killed_dir, whole_dir = tmp_path / 'killed', tmp_path / 'whole'
  with _processes() as started:
    whole = _start(started, whole_dir, config, tmp_path / 'whole.log', *flags)
    killed = _start(started, killed_dir, config, tmp_path / 'killed.log',
                    *flags)
    deadline = time.monotonic() + TIMEOUT_S
    while tf.train.latest_checkpoint(str(killed_dir)) is None:
      assert killed.poll() is None, open(killed.log_path).read()[-3000:]
      assert time.monotonic() < deadline
      time.sleep(0.05)
    killed.kill()  # SIGKILL: no handler, no clean-up.
    killed.wait()
    killed_at, _ = helpers.checkpoint_step_and_weights(killed_dir)
    assert 0 < killed_at < 30
    resumed = _start(started, killed_dir, config, tmp_path / 'resumed.log',
                     *flags)
    _finish(resumed)
    _finish(whole)
  # Model Garden's log of both runs, appended in the run folder.
  log = (killed_dir / 'train.log').read_text()
  assert f'train | step: {killed_at:6d} | training until step 30' in log
  step, weights = helpers.checkpoint_step_and_weights(killed_dir)
  whole_step, whole_weights = helpers.checkpoint_step_and_weights(whole_dir)
  assert step == whole_step == 30
  assert weights.keys() == whole_weights.keys() and len(weights) > 50
  for name, value in weights.items():
    np.testing.assert_array_equal(value, whole_weights[name], err_msg=name)


def _free_ports(n):
  with contextlib.ExitStack() as stack:
    sockets = [stack.enter_context(socket.socket()) for _ in range(n)]
    for s in sockets:
      s.bind(('127.0.0.1', 0))
    return [s.getsockname()[1] for s in sockets]


@pytest.mark.slow
def test_two_workers_match_one_mirrored_process(data_dir, tmp_path):
  trainer = dict(train_steps=3, steps_per_loop=1, checkpoint_interval=3)
  mirrored = _config_file(tmp_path, data_dir, 'mirrored', **trainer)
  multi = _config_file(tmp_path, data_dir, 'multi', **trainer)
  with open(multi) as f:
    config = yaml.safe_load(f)
  config['runtime'] = {'distribution_strategy': 'multi_worker_mirrored'}
  with open(multi, 'w') as f:
    yaml.safe_dump(config, f)
  cluster = {'worker': [f'127.0.0.1:{p}' for p in _free_ports(2)]}
  with _processes() as started:
    workers = [
        _start(started, tmp_path / f'worker{i}', multi,
               tmp_path / f'worker{i}.log', env={
                   'TF_CONFIG': json.dumps({
                       'cluster': cluster,
                       'task': {'type': 'worker', 'index': i}}),
                   'TMPDIR': str(tmp_path)})  # Non-chief checkpoints.
        for i in range(2)]
    single = _start(started, tmp_path / 'single', mirrored,
                    tmp_path / 'single.log', '--cpu_replicas=2')
    outputs = [_finish(p) for p in workers]
    _finish(single)
  # The terminal names the strategy's class; TensorFlow's log, its API name.
  assert 'on 2 replica(s) of CollectiveAllReduceStrategy' in outputs[0]
  log = (tmp_path / 'worker0' / 'train.log').read_text()
  assert 'MultiWorkerMirroredStrategy with cluster_spec' in log
  # Worker 0 is the chief.
  step, weights = helpers.checkpoint_step_and_weights(tmp_path / 'worker0')
  single_step, single_weights = helpers.checkpoint_step_and_weights(
      tmp_path / 'single')
  assert step == single_step == 3
  assert weights.keys() == single_weights.keys() and len(weights) > 50
  for name, value in weights.items():
    np.testing.assert_allclose(value, single_weights[name], rtol=1e-4,
                               atol=1e-6, err_msg=name)


@pytest.fixture(scope='module', autouse=True)
def _data_made(data_dir):
  """The subprocesses read the digits; make them once, here."""
  from official.projects.group_norm.data import make_digits  # noqa: PLC0415
  if not tf.io.gfile.glob(os.path.join(data_dir, 'train.tfrecord')):
    make_digits.make_digits(data_dir)
