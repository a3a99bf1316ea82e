"""The batch-size sweep: protocol arithmetic, table, plot, resume."""

import csv
import json
import os

import pytest

from official.core import exp_factory
from official.projects.group_norm.studies import sweep


def _digits():
  return exp_factory.get_exp_config('resnet_gn_digits')


def test_cell_keeps_epochs_and_scales_the_learning_rate_linearly():
  params = _digits()  # Global batch 8, 1074 steps, lr 0.025 at 8.
  overrides = sweep.cell_overrides(params, sweep.Cell('batch_norm', 4, 3),
                                   replicas=4)
  trainer = overrides['trainer']
  assert overrides['task']['train_data'] == {'global_batch_size': 16,
                                             'seed': 3}
  assert overrides['task']['model']['backbone']['resnet_gn']['norm'] == (
      'batch_norm')
  assert trainer['train_steps'] == 537  # 6 epochs of 1437 at 16.
  boundaries = params.trainer.optimizer_config.learning_rate.stepwise
  stepwise = trainer['optimizer_config']['learning_rate']['stepwise']
  assert stepwise['boundaries'] == [round(b / 2) for b in
                                    boundaries.boundaries]
  assert stepwise['values'] == pytest.approx([0.05, 0.005, 0.0005])
  assert trainer['optimizer_config']['warmup']['linear']['warmup_steps'] == 22
  assert trainer['steps_per_loop'] == trainer['validation_interval'] == 90


def test_base_learning_rate_is_per_256_images():
  overrides = sweep.cell_overrides(_digits(), sweep.Cell('group_norm', 32, 0),
                                   replicas=4, base_learning_rate=0.2)
  stepwise = overrides['trainer']['optimizer_config']['learning_rate'][
      'stepwise']
  assert stepwise['values'] == pytest.approx([0.1, 0.01, 0.001])  # At 128.


def test_cell_rejects_an_unknown_norm_and_other_schedules():
  with pytest.raises(ValueError, match="Unknown norm 'gn'"):
    sweep.cell_overrides(_digits(), sweep.Cell('gn', 2, 0), replicas=4)
  params = _digits()
  params.override({'trainer': {'optimizer_config': {'learning_rate': {
      'type': 'cosine'}}}})
  with pytest.raises(ValueError, match="rescales stepwise .* 'cosine'"):
    sweep.cell_overrides(params, sweep.Cell('group_norm', 2, 0), replicas=4)


def test_table_gives_mean_and_range_over_seeds():
  rows = [
      {'norm': 'batch_norm', 'per_replica_batch': 2, 'val_error': 0.5,
       'status': 'ok'},
      {'norm': 'batch_norm', 'per_replica_batch': 2, 'val_error': 0.3,
       'status': 'ok'},
      {'norm': 'group_norm', 'per_replica_batch': 2, 'val_error': 0.01,
       'status': 'ok'},
      {'norm': 'group_norm', 'per_replica_batch': 8, 'val_error': 0.9,
       'status': 'failed (x)'},
  ]
  table = sweep.summarize(rows)
  assert table == {'batch_norm': {2: [50.0, 30.0]}, 'group_norm': {2: [1.0]}}
  assert sweep.format_table(table, [8, 2]).splitlines()[2:] == [
      '| batch_norm | - | 40.0 (30.0-50.0) |', '| group_norm | - | 1.0 |']


@pytest.mark.slow
def test_sweep_runs_cells_writes_table_and_plot_and_resumes(data_dir,
                                                            tmp_path):
  override = json.dumps({
      'task': {
          'train_data': {'input_path': os.path.join(data_dir,
                                                    'train.tfrecord')},
          'validation_data': {
              'input_path': os.path.join(data_dir, 'validation.tfrecord')},
      },
      'trainer': {'train_steps': 2, 'steps_per_loop': 1,
                  'validation_interval': 2, 'validation_steps': 2},
  })
  output_dir = str(tmp_path / 'sweep')
  results_dir = str(tmp_path / 'docs')
  lines = []
  kwargs = dict(experiment='resnet_gn_digits', norms=['group_norm'],
                per_replica_batch_sizes=[1], cpu_replicas=2,
                params_override=override, results_dir=results_dir,
                log=lines.append)
  rows = sweep.sweep(seeds=[0], output_dir=output_dir, **kwargs)
  assert [(r['norm'], r['seed'], r['steps'], r['status']) for r in rows] == [
      ('group_norm', 0, 2, 'ok')]
  assert 0 <= rows[0]['val_error'] <= 1
  assert lines[1].startswith('[1/1] group_norm at 1 images/replica, seed 0: '
                             'validation error ')
  assert os.path.getsize(os.path.join(results_dir, 'sweep.png')) > 1000
  assert os.listdir(os.path.join(output_dir, 'runs')) == ['group_norm_b1_s0']

  # A fresh clone holds only the committed results: seed 0 is not rerun. Its
  # seed-1 run was interrupted: that run folder is started over.
  fresh_dir = str(tmp_path / 'fresh_clone_runs')
  partial = os.path.join(fresh_dir, 'runs', 'group_norm_b1_s1')
  os.makedirs(partial)
  open(os.path.join(partial, 'left_by_a_killed_run'), 'w').close()
  lines.clear()
  rows = sweep.sweep(seeds=[0, 1], output_dir=fresh_dir, **kwargs)
  assert lines[0].endswith('2 cells, 1 already done, 1 to run on 2 CPU '
                           'replicas.')
  assert [(r['seed'], r['status']) for r in rows] == [(0, 'ok'), (1, 'ok')]
  assert sorted(os.listdir(os.path.join(fresh_dir, 'runs'))) == [
      'group_norm_b1_s1']
  assert not os.path.exists(os.path.join(partial, 'left_by_a_killed_run'))
  with open(os.path.join(results_dir, 'results.csv')) as f:
    assert [r['seed'] for r in csv.DictReader(f)] == ['0', '1']

  with pytest.raises(ValueError, match='holds results made with settings'):
    sweep.sweep(**{**kwargs, 'cpu_replicas': 4}, seeds=[0],
                output_dir=output_dir)
