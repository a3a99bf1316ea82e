"""The Mask R-CNN shapes benchmark: commands, rows, table and pass/fail rule.

The benchmark's runs themselves take about 15 minutes each; they are not part
of the suite (the README quotes the command and its numbers).
"""

import json
import os

import pytest

from official.core import exp_factory
from official.modeling import hyperparams
from official.projects.group_norm.studies import maskrcnn_shapes as bench

GN = {'row': 'group_norm', 'seed': 0, 'steps': 3000, 'AP': 0.87,
      'AP50': 0.99, 'AP75': 0.98, 'mask_AP': 0.80, 'mask_AP50': 0.99,
      'mask_AP75': 0.98}
BN = dict(GN, row='batch_norm', AP=0.46, mask_AP=0.45)


def _flag(command, name):
  return [a.split('=', 1)[1] for a in command if a.startswith(f'--{name}=')]


def test_each_row_is_the_same_command_plus_its_config_files(tmp_path):
  gn = bench.train_command('group_norm', str(tmp_path / 'gn'))
  bn = bench.train_command('batch_norm', str(tmp_path / 'bn'), seed=1)
  assert '--experiment=maskrcnn_gn_shapes' in gn and '--cpu_replicas=2' in gn
  assert '--seed=1' in bn and len(_flag(bn, 'config_file')) == 1
  with pytest.raises(ValueError, match="Unknown row 'gn'"):
    bench.train_command('gn', str(tmp_path))
  with pytest.raises(ValueError, match='pretrained backbone'):
    bench.train_command('bn_frozen', str(tmp_path))


@pytest.mark.parametrize('row,backbone,fpn,box,mask', [
    ('gn_pretrained', 'group_norm', 'group_norm', 'group_norm', 'group_norm'),
    ('bn_frozen', 'frozen_batch_norm', None, None, None),
    ('bn_frozen_gn_heads', 'frozen_batch_norm', 'group_norm', 'group_norm',
     'group_norm'),
    ('sync_bn', 'sync_batch_norm', 'sync_batch_norm', 'sync_batch_norm',
     'sync_batch_norm'),
])
def test_pretrained_rows_configure_the_papers_table(tmp_path, row, backbone,
                                                    fpn, box, mask):
  command = bench.train_command(row, str(tmp_path), init_checkpoint='/ckpt')
  params = exp_factory.get_exp_config(bench.EXPERIMENT)
  for path in _flag(command, 'config_file'):
    params = hyperparams.override_params_dict(params, path, is_strict=True)
  params.validate()
  model = params.task.model
  assert (model.backbone.resnet_gn.norm, model.decoder.fpn_gn.norm,
          model.detection_head.norm, model.mask_head.norm) == (
              backbone, fpn, box, mask)
  assert model.rpn_head.norm is None  # As the GN rows: no norm in the RPN.
  assert (params.task.init_checkpoint,
          params.task.init_checkpoint_modules) == ('/ckpt', 'backbone')
  # No weight decay on gamma/beta when fine-tuning (the paper: important).
  assert not model.backbone.resnet_gn.norm_weight_decay


def test_pretraining_is_the_same_schedule_for_both_norms(tmp_path):
  gn = bench.pretrain_command('group_norm', str(tmp_path))
  bn = bench.pretrain_command('batch_norm', str(tmp_path))
  assert '--experiment=resnet_gn_shapes_pretrain' in gn
  assert [a for a in gn if 'norm=' not in a] == [
      a for a in bn if 'norm=' not in a]
  assert _flag(bn, 'params_override') == [
      'task.model.backbone.resnet_gn.norm=batch_norm']


def test_check_passes_only_when_the_claims_hold():
  assert not bench.check([GN, BN], 0.6, 0.6)
  assert bench.check([GN, BN], 0.9, 0.6) == ['GN box AP 0.870 < 0.9']
  assert bench.check([dict(GN, mask_AP=0.4), BN], 0.6, 0.3) == [
      'GN mask_AP 0.400 <= BN 0.450']
  pre = [dict(GN, row='gn_pretrained', seed=s, AP=a, mask_AP=0.8)
         for s, a in ((0, 0.80), (1, 0.84))]
  frozen = [dict(GN, row='bn_frozen', seed=s, AP=a, mask_AP=0.8)
            for s, a in ((0, 0.83), (1, 0.81))]
  assert not bench.check(pre + frozen, 0.6, 0.6)  # Means 0.82 and 0.82.
  frozen[1]['AP'] = 0.82
  assert bench.check(pre + frozen, 0.6, 0.6) == [
      'pretrained GN mean AP 0.820 < BN* 0.825']
  assert bench.check([BN], 0.6, 0.6) == [
      'no claim checked: run group_norm, or gn_pretrained and bn_frozen']


def test_finished_runs_are_reused_not_rerun(tmp_path):
  run_dir = tmp_path / 'group_norm_s0'
  run_dir.mkdir()
  metrics = {k: GN[k] for k in bench.METRICS}
  (run_dir / 'eval_metrics.json').write_text(
      json.dumps({**metrics, 'global_step': 3000}))
  row = bench.run_row('group_norm', 0, str(tmp_path), train_steps=3000)
  assert row == {**GN, 'wall_s': None}
  assert bench.format_table([row, dict(row, seed=1, AP=0.83)]).splitlines()[
      -1] == ('| group_norm | GN from scratch, every part | 2 | 85.0 '
              '(83.0-87.0) | 80.0 (80.0-80.0) | 99.0 (99.0-99.0) | 99.0 '
              '(99.0-99.0) |')


def test_recorded_rows_are_the_resume_state(tmp_path):
  """A fresh clone's committed results file: nothing runs, nothing is lost."""
  results_dir = tmp_path / 'docs'
  results_dir.mkdir()
  (results_dir / 'results.json').write_text(json.dumps({
      'settings': {'experiment': bench.EXPERIMENT, 'params_override': ''},
      'rows': [dict(GN, wall_s=845.0), dict(BN, wall_s=863.0)]}))
  lines = []
  rows = bench.run_study(['group_norm', 'batch_norm'], [0],
                         str(tmp_path / 'runs'), str(results_dir),
                         log=lines.append)
  assert rows == [dict(GN, wall_s=845.0), dict(BN, wall_s=863.0)]
  assert lines[0].startswith('[1/2] group_norm, seed 0: recorded in ')
  assert not (tmp_path / 'runs').exists()


def test_a_weak_pretrained_backbone_stops_the_study(tmp_path, monkeypatch):
  """Both backbones are checked before the first fine-tuning run starts."""
  for norm, accuracy in (('group_norm', 0.9), ('batch_norm', 0.4)):
    run_dir = tmp_path / 'runs' / f'pretrain_{norm}'
    run_dir.mkdir(parents=True)
    (run_dir / 'eval_metrics.json').write_text(json.dumps(
        {'accuracy': accuracy, 'global_step': 10}))
  monkeypatch.setattr(bench.tf.train, 'latest_checkpoint',
                      lambda path: path + '/ckpt-10')
  with pytest.raises(RuntimeError, match='0.400 < --min_pretrain_accuracy'
                     '=0.6 .*not be a fair baseline'):
    bench.run_study(['gn_pretrained', 'bn_frozen'], [0],
                    str(tmp_path / 'runs'), str(tmp_path / 'docs'),
                    min_pretrain_accuracy=0.6, log=lambda line: None)
  assert not (tmp_path / 'runs' / 'gn_pretrained_s0').exists()
  assert not (tmp_path / 'runs' / 'bn_frozen_s0').exists()


def test_committed_results_are_readable_rows():
  path = os.path.join(os.path.dirname(bench.__file__), '..', 'docs',
                      'maskrcnn_shapes', 'results.json')
  with open(path) as f:
    recorded = json.load(f)
  assert recorded['settings'] == {'experiment': bench.EXPERIMENT,
                                  'params_override': ''}
  assert all(set(bench.KEY_FIELDS) <= set(r) for r in recorded['rows'])


def test_recorded_rows_are_every_fine_tuning_run_in_table_order(tmp_path):
  (tmp_path / 'results.json').write_text(json.dumps({'settings': {}, 'rows': [
      dict(GN, row='bn_frozen', seed=1), {'row': 'pretrain_batch_norm',
                                          'seed': 0, 'accuracy': 0.9},
      dict(GN, row='bn_frozen', seed=0), GN]}))
  assert [(r['row'], r['seed']) for r in bench.recorded_rows(
      str(tmp_path))] == [('group_norm', 0), ('bn_frozen', 0),
                          ('bn_frozen', 1)]
