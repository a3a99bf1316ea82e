"""The Mask R-CNN shapes benchmark: its commands, table and pass/fail rule.

The benchmark's runs themselves take about 15 minutes a norm; they are not
part of the suite (the README quotes the command and its numbers).
"""

import json
import os

import pytest

from official.projects.group_norm.studies import maskrcnn_shapes as bench

GN = {'norm': 'group_norm', 'steps': 3000, 'AP': 0.87, 'AP50': 0.99,
      'AP75': 0.98, 'mask_AP': 0.80, 'mask_AP50': 0.99, 'mask_AP75': 0.98}
BN = dict(GN, norm='batch_norm', AP=0.46, mask_AP=0.45)


def test_bn_run_is_the_same_command_plus_the_bn_config_file(tmp_path):
  gn = bench.train_command('group_norm', str(tmp_path))
  bn = bench.train_command('batch_norm', str(tmp_path))
  assert '--experiment=maskrcnn_gn_shapes' in gn and '--cpu_replicas=2' in gn
  assert bn[:len(gn)] == gn
  assert len(bn) == len(gn) + 1 and os.path.isfile(
      bn[-1].split('=', 1)[1])
  with pytest.raises(ValueError, match="Unknown norm 'gn'"):
    bench.train_command('gn', str(tmp_path))


def test_check_passes_only_when_gn_clears_its_bounds_and_beats_bn():
  assert not bench.check([GN, BN], 0.6, 0.6)
  assert bench.check([GN, BN], 0.9, 0.6) == ['GN box AP 0.870 < 0.9']
  assert bench.check([dict(GN, mask_AP=0.4), BN], 0.6, 0.3) == [
      'GN mask_AP 0.400 <= BN 0.450']
  assert bench.check([BN], 0.6, 0.6) == ['no group_norm run']


def test_finished_runs_are_reused_not_rerun(tmp_path):
  run_dir = tmp_path / 'group_norm'
  run_dir.mkdir()
  metrics = {k: GN[k] for k in bench.METRICS}
  (run_dir / 'eval_metrics.json').write_text(
      json.dumps({**metrics, 'global_step': 3000}))
  row = bench.run_norm('group_norm', str(tmp_path), train_steps=3000)
  assert row == {**GN, 'wall_s': None}
  assert bench.format_table([row]).splitlines()[-1] == (
      '| group_norm | 3000 | 87.0 | 99.0 | 98.0 | 80.0 | 99.0 | 98.0 |')


def test_recorded_rows_are_the_resume_state(tmp_path):
  """A fresh clone's committed results file: nothing runs, nothing is lost."""
  results_dir = tmp_path / 'docs'
  results_dir.mkdir()
  (results_dir / 'results.json').write_text(json.dumps({
      'settings': {'experiment': bench.EXPERIMENT, 'params_override': ''},
      'rows': [dict(GN, wall_s=845.0), dict(BN, wall_s=863.0)]}))
  lines = []
  rows = bench.run_study(['group_norm', 'batch_norm'],
                         str(tmp_path / 'runs'), str(results_dir),
                         log=lines.append)
  assert rows == [dict(GN, wall_s=845.0), dict(BN, wall_s=863.0)]
  assert lines[0].startswith('[1/2] group_norm: recorded in ')
  assert not (tmp_path / 'runs').exists()
