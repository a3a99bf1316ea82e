"""The batch-size sweep: protocol arithmetic, table, plot, resume."""

import csv
import json
import os

import pytest
import tf_keras

from gn_keras import tf_keras as gn_tf_keras
from official.core import exp_factory
from official.projects.group_norm.studies import sweep
from official.vision.modeling import factory


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


def test_colour_digits_cells_keep_15_epochs_on_2_replicas():
  params = exp_factory.get_exp_config('resnet_gn_colour_digits')
  small = sweep.cell_overrides(params, sweep.Cell('batch_norm', 2, 0), 2)
  large = sweep.cell_overrides(params, sweep.Cell('group_norm', 32, 0), 2)
  assert large['task']['train_data']['global_batch_size'] == 64
  assert large['trainer']['train_steps'] == 330  # 15 epochs of 22 steps.
  assert small['trainer']['train_steps'] == 5280  # x16 at global batch 4.
  lr = [o['trainer']['optimizer_config']['learning_rate']['stepwise']
        for o in (large, small)]
  assert lr[0]['values'][0] == pytest.approx(0.2)  # 0.8 per 256 images.
  assert lr[1]['values'][0] == pytest.approx(0.0125)
  assert lr[1]['boundaries'] == [16 * b for b in lr[0]['boundaries']]
  assert small['trainer']['validation_interval'] == 5280  # Once, at the end.


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


def test_lines_set_groups_group_size_and_weight_standardization():
  assert sweep.line_settings('batch_renorm') == {'norm': 'batch_renorm'}
  assert sweep.line_settings('group_norm-G4') == {
      'norm': 'group_norm', 'groups': 4, 'group_size': None}
  assert sweep.line_settings('group_norm-C2+ws') == {
      'norm': 'group_norm', 'groups': None, 'group_size': 2,
      'weight_standardization': True}
  with pytest.raises(ValueError, match='Malformed sweep line'):
    sweep.line_settings('group_norm-X4')
  with pytest.raises(ValueError, match='group_norm only'):
    sweep.line_settings('batch_norm-G4')


def test_group_size_line_reaches_the_built_backbone():
  params = exp_factory.get_exp_config('resnet_gn_colour_digits')
  params.override(sweep.cell_overrides(
      params, sweep.Cell('group_norm-C4+ws', 8, 0), replicas=2))
  backbone = params.task.model.backbone.resnet_gn
  assert (backbone.groups, backbone.group_size) == (None, 4)
  model = factory.build_classification_model(
      input_specs=tf_keras.layers.InputSpec(shape=[None, 64, 64, 3]),
      model_config=params.task.model,
      l2_regularizer=None)
  gn_layers = [layer for layer in model.backbone.layers
               if isinstance(layer, gn_tf_keras.GroupNormalization)]
  assert gn_layers and all(
      (layer.groups, layer.group_size) == (None, 4) for layer in gn_layers)
  resolved = {layer._groups for layer in gn_layers}  # noqa: SLF001
  assert resolved == {4, 8, 16, 32}  # Widths 16..128, 4 channels a group.
  assert any('ws_kernel' in w.name for w in model.backbone.weights)


def test_video_lines_switch_the_3d_backbone_and_its_c2d_control():
  params = exp_factory.get_exp_config('video_i3d_gn_clips')
  overrides = sweep.cell_overrides(params, sweep.Cell('batch_norm+c2d', 1, 1),
                                   replicas=2)
  assert overrides['task']['train_data'] == {'global_batch_size': 2,
                                             'seed': 1}
  params.override(overrides)
  backbone = params.task.model.backbone.resnet_3d_gn
  assert backbone.norm == 'batch_norm'
  assert backbone.stem_conv_temporal_kernel_size == 1
  assert [tuple(b.temporal_kernel_sizes) for b in backbone.block_specs] == [
      (1,)] * 4
  with pytest.raises(ValueError, match=r'\+ws needs a resnet_gn backbone'):
    sweep.cell_overrides(params, sweep.Cell('group_norm+ws', 1, 0), 2)
  with pytest.raises(ValueError, match=r'\+c2d needs a resnet_3d_gn'):
    sweep.cell_overrides(_digits(), sweep.Cell('group_norm+c2d', 1, 0), 2)


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
  rows = [{'norm': n, 'val_error': e, 'status': 'ok', 'per_replica_batch': 32}
          for n, e in (('group_norm-G16', 0.02), ('group_norm', 0.01),
                       ('group_norm', 0.03), ('group_norm-C1', 0.05),
                       ('batch_norm', 0.0))]
  table = sweep.ablation_table(rows, default_groups=8)
  assert table == {'G': {16: [2.0], 8: [1.0, 3.0]}, 'C': {1: [5.0]}}
  assert sweep.paper_counterpart(8, narrowest_width=16) == 32
  lines = sweep.format_ablation(table, 16, 32).splitlines()
  assert '| 16 | 2.00 | +0.00 | 64 | 24.6 | +0.5 |' in lines
  assert '| 8 | 2.00 | +0.00 | 32 | 24.1 | +0.0 |' in lines
  assert '| 1 | 5.00 | +0.00 | 4 | 24.8 | +0.6 |' in lines


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
  rows = sweep.sweep(norms=['group_norm'], output_dir=output_dir, **kwargs)
  assert [(r['norm'], r['seed'], r['steps'], r['status']) for r in rows] == [
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
  rows = sweep.sweep(norms=['group_norm', 'group_norm-G2'],
                     output_dir=fresh_dir, **kwargs)
  assert lines[0].endswith('2 cells, 1 already done, 1 to run on 2 CPU '
                           'replicas.')
  assert [(r['norm'], r['status']) for r in rows] == [
      ('group_norm', 'ok'), ('group_norm-G2', 'ok')]
  assert sorted(os.listdir(os.path.join(fresh_dir, 'runs'))) == [
      'group_norm-G2_b1_s0']
  assert not os.path.exists(os.path.join(partial, 'left_by_a_killed_run'))
  with open(os.path.join(results_dir, 'results.csv')) as f:
    assert [r['norm'] for r in csv.DictReader(f)] == ['group_norm',
                                                      'group_norm-G2']
  with open(os.path.join(results_dir, 'ablation.md')) as f:
    ablation = f.read()  # Plain GN counts as the experiment's G = 8.
  assert '| 8 | ' in ablation and '| 2 | ' in ablation
  assert os.path.getsize(os.path.join(results_dir, 'ablation.png')) > 1000

  with pytest.raises(ValueError, match='holds results made with settings'):
    sweep.sweep(**{**kwargs, 'cpu_replicas': 4}, norms=['group_norm'],
                output_dir=output_dir)
