"""The batch-size study: claims, ablation beside Table 3, report, resume."""

import csv
import json
import os

import pytest

from official.projects.group_norm.studies import sweep


def test_claims_follow_the_targets():
  def table(gn2=2.0, bn2=9.0, bn32=1.0, ln=None):
    result = {'group_norm': {b: [2.0] for b in (32, 16, 8, 4)},
              'batch_norm': {32: [bn32], 16: [1.0], 2: [bn2]}}
    result['group_norm'][2] = [gn2]
    if ln:
      result['layer_norm'] = {32: [ln]}
    return result
  held = lambda t: [h for _, h in sweep.claims(t)]  # noqa: E731
  assert held(table()) == [True, True, True, True, None, None]
  assert held(table(gn2=3.6))[0] is False  # Spread 1.6.
  assert held(table(bn32=0.4))[1] is False  # GN 1.6 worse at 32.
  assert held(table(bn2=6.9))[3] is False  # BN only 4.9 worse at 2.
  assert held(table(ln=5.9))[4] is True and held(table(ln=6.0))[4] is False
  assert 'MISSED' in sweep.format_claims(sweep.claims(table(bn2=2.0)))


def test_ablation_table_sits_beside_the_papers_settings():
  rows = [{'line': n, 'val_error': e, 'status': 'ok', 'per_replica_batch': 32}
          for n, e in (('group_norm-G16', 0.02), ('group_norm', 0.01),
                       ('group_norm', 0.03), ('group_norm-C1', 0.05),
                       ('batch_norm', 0.0))]
  table = sweep.ablation_table(rows, default_groups=8)
  assert table == {'G': {16: [2.0], 8: [1.0, 3.0]}, 'C': {1: [5.0]}}
  assert sweep.paper_counterpart(8, narrowest_width=16) == 32
  lines = sweep.format_ablation(table, 16, 32).splitlines()
  assert '| 16 | 2.00 | 1 | +0.00 | 64 | 24.6 | +0.5 |' in lines
  assert '| 8 | 2.00 | 2 | +0.00 | 32 | 24.1 | +0.0 |' in lines
  # One channel per group is IN at any width: the paper's 1-channel row.
  assert '| 1 | 5.00 | 1 | +0.00 | 1 | 28.4 | +4.2 |' in lines
  assert sweep.paper_counterpart(1, narrowest_width=16) == 1


def test_group_spread_is_over_two_or_more_groups_beside_the_papers():
  table = {'G': {16: [2.0], 8: [1.0, 3.0], 2: [4.5], 1: [9.0]}, 'C': {}}
  # Ours over 16, 8 (mean 2.0), 2: 2.5; LN (G=1) stands apart, as in Table 3.
  # The paper's matched settings, G = 64, 32, 8: 24.6, 24.1, 24.4.
  ours, theirs = sweep.group_spread(table, narrowest_width=16)
  assert ours == pytest.approx(2.5) and theirs == pytest.approx(0.5)
  assert sweep.group_spread({'G': {8: [1.0], 1: [2.0]}, 'C': {}}, 16) is None


@pytest.mark.slow
def test_sweep_runs_cells_writes_table_and_plot_and_resumes(tmp_path):
  # Its own folder: the experiment makes its colour digits there on first
  # use (the session's digits folder holds the plain 32 px ones).
  data_dir = str(tmp_path / 'colour_digits')
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
  kwargs = dict(experiment='resnet_gn_colour_digits',
                per_replica_batch_sizes=[1], cpu_replicas=2, seeds=[0],
                params_override=override, results_dir=results_dir,
                log=lines.append)
  rows = sweep.sweep(lines=['group_norm'], output_dir=output_dir, **kwargs)
  assert [(r['line'], r['seed'], r['steps'], r['status']) for r in rows] == [
      ('group_norm', 0, 2, 'ok')]
  assert 0 <= rows[0]['val_error'] <= 1
  assert lines[1].startswith('[1/1] group_norm at 1 images/replica, seed 0: '
                             'validation error ')
  assert os.path.getsize(os.path.join(results_dir, 'sweep.png')) > 1000
  assert os.listdir(os.path.join(output_dir, 'runs')) == ['group_norm_b1_s0']

  # A fresh clone holds only the committed results: the GN cell is not rerun.
  # The run of the new ablation line was interrupted: its folder starts over.
  fresh_dir = str(tmp_path / 'fresh_clone_runs')
  partial = os.path.join(fresh_dir, 'runs', 'group_norm-G2_b1_s0')
  os.makedirs(partial)
  open(os.path.join(partial, 'left_by_a_killed_run'), 'w').close()
  lines.clear()
  rows = sweep.sweep(lines=['group_norm', 'group_norm-G2'],
                     output_dir=fresh_dir, **kwargs)
  assert lines[0].endswith('2 cells, 1 already done, 1 to run on 2 CPU '
                           'replicas.')
  assert [(r['line'], r['status']) for r in rows] == [
      ('group_norm', 'ok'), ('group_norm-G2', 'ok')]
  assert sorted(os.listdir(os.path.join(fresh_dir, 'runs'))) == [
      'group_norm-G2_b1_s0']
  assert not os.path.exists(os.path.join(partial, 'left_by_a_killed_run'))
  with open(os.path.join(results_dir, 'results.csv')) as f:
    assert [r['line'] for r in csv.DictReader(f)] == ['group_norm',
                                                      'group_norm-G2']
  with open(os.path.join(results_dir, 'ablation.md')) as f:
    ablation = f.read()  # Plain GN counts as the experiment's G = 8.
  assert '| 8 | ' in ablation and '| 2 | ' in ablation
  assert os.path.getsize(os.path.join(results_dir, 'ablation.png')) > 1000

  with pytest.raises(ValueError, match='holds results made with settings'):
    sweep.sweep(**{**kwargs, 'cpu_replicas': 4}, lines=['group_norm'],
                output_dir=output_dir)
