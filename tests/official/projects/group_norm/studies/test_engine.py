"""The study engine: protocol arithmetic, lines, tables, curves."""

import os

import pytest
import tf_keras

from gn_keras import tf_keras as gn_tf_keras
from official.core import exp_factory
from official.projects.group_norm import runner
from official.projects.group_norm.studies import engine
from official.vision.modeling import factory


def _digits():
  return exp_factory.get_exp_config('resnet_gn_digits')


def test_cell_keeps_epochs_and_scales_the_learning_rate_linearly():
  params = _digits()  # Global batch 8, 1074 steps, lr 0.025 at 8.
  overrides = engine.cell_overrides(params, engine.Cell('batch_norm', 4, 3),
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
  small = engine.cell_overrides(params, engine.Cell('batch_norm', 2, 0), 2)
  large = engine.cell_overrides(params, engine.Cell('group_norm', 32, 0), 2)
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
  overrides = engine.cell_overrides(_digits(), engine.Cell('group_norm', 32, 0),
                                   replicas=4, base_learning_rate=0.2)
  stepwise = overrides['trainer']['optimizer_config']['learning_rate'][
      'stepwise']
  assert stepwise['values'] == pytest.approx([0.1, 0.01, 0.001])  # At 128.


def test_cell_rejects_an_unknown_norm_and_other_schedules():
  with pytest.raises(ValueError, match="Unknown norm 'gn'"):
    engine.cell_overrides(_digits(), engine.Cell('gn', 2, 0), replicas=4)
  params = _digits()
  params.override({'trainer': {'optimizer_config': {'learning_rate': {
      'type': 'cosine'}}}})
  with pytest.raises(ValueError, match="rescales stepwise .* 'cosine'"):
    engine.cell_overrides(params, engine.Cell('group_norm', 2, 0), replicas=4)


def test_lines_set_groups_group_size_and_weight_standardization():
  assert engine.line_settings('batch_renorm') == {'norm': 'batch_renorm'}
  assert engine.line_settings('group_norm-G4') == {
      'norm': 'group_norm', 'groups': 4, 'group_size': None}
  assert engine.line_settings('group_norm-C2+ws') == {
      'norm': 'group_norm', 'groups': None, 'group_size': 2,
      'weight_standardization': True}
  with pytest.raises(ValueError, match='Malformed study line'):
    engine.line_settings('group_norm-X4')
  with pytest.raises(ValueError, match='group_norm only'):
    engine.line_settings('batch_norm-G4')


def test_group_size_line_reaches_the_built_backbone():
  params = exp_factory.get_exp_config('resnet_gn_colour_digits')
  params.override(engine.cell_overrides(
      params, engine.Cell('group_norm-C4+ws', 8, 0), replicas=2))
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
  overrides = engine.cell_overrides(params, engine.Cell('batch_norm+c2d', 1, 1),
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
    engine.cell_overrides(params, engine.Cell('group_norm+ws', 1, 0), 2)
  with pytest.raises(ValueError, match=r'\+c2d needs a resnet_3d_gn'):
    engine.cell_overrides(_digits(), engine.Cell('group_norm+c2d', 1, 0), 2)


def test_table_gives_mean_and_range_over_seeds():
  rows = [
      {'line': 'batch_norm', 'per_replica_batch': 2, 'val_error': 0.5,
       'status': 'ok'},
      {'line': 'batch_norm', 'per_replica_batch': 2, 'val_error': 0.3,
       'status': 'ok'},
      {'line': 'group_norm', 'per_replica_batch': 2, 'val_error': 0.01,
       'status': 'ok'},
      {'line': 'group_norm', 'per_replica_batch': 8, 'val_error': 0.9,
       'status': 'failed (x)'},
  ]
  table = engine.summarize(rows)
  assert table == {'batch_norm': {2: [50.0, 30.0]}, 'group_norm': {2: [1.0]}}
  assert engine.format_table(table, [8, 2]).splitlines()[2:] == [
      '| batch_norm | - | 40.0 (30.0-50.0) |', '| group_norm | - | 1.0 |']




def test_schedule_scale_trains_that_many_times_the_epochs():
  params = exp_factory.get_exp_config('resnet_gn_fashion_photos')
  once = engine.cell_overrides(params, engine.Cell('group_norm', 2, 0), 2)
  twice = engine.cell_overrides(params, engine.Cell('group_norm', 2, 0), 2,
                                schedule_scale=2.0)
  assert twice['trainer']['train_steps'] == 2 * once['trainer']['train_steps']
  lr = [o['trainer']['optimizer_config']['learning_rate']['stepwise']
        for o in (once, twice)]
  assert lr[1]['boundaries'] == [2 * b for b in lr[0]['boundaries']]
  assert lr[1]['values'] == lr[0]['values']
  # Warm-up and loop lengths are epochs' worth, not the schedule's share.
  for key in ('steps_per_loop', 'summary_interval'):
    assert twice['trainer'][key] == once['trainer'][key]
  assert (twice['trainer']['optimizer_config']['warmup'] ==
          once['trainer']['optimizer_config']['warmup'])


def test_error_curves_come_from_the_runs_history():
  history = [{'kind': 'train', 'step': 10, 'accuracy': 0.25, 'loss': 2.0},
             {'kind': 'eval', 'step': 10, 'accuracy': 0.5},
             {'kind': 'train', 'step': 20, 'accuracy': 0.75}]
  assert engine.error_curves(history) == {
      'train_curve': [[10, 0.75], [20, 0.25]], 'val_curve': [[10, 0.5]]}
  assert engine.error_curves([{'kind': 'eval', 'step': 3, 'AP': 0.1}]) == {}


def test_errors_by_seed_pairs_cells_by_seed():
  rows = [{'line': 'batch_norm', 'per_replica_batch': 2, 'seed': s,
           'val_error': e, 'status': st}
          for s, e, st in ((0, 0.5, 'ok'), (1, 0.25, 'ok'), (2, 0.1, 'failed'))]
  assert engine.errors_by_seed(rows) == {('batch_norm', 2): {0: 50.0,
                                                             1: 25.0}}


def test_two_studies_on_one_results_file_split_the_cells(tmp_path,
                                                         monkeypatch):
  output_dir, results_dir = str(tmp_path / 'runs'), str(tmp_path / 'docs')
  trained = []

  def run_cell(experiment, cell, overrides, replicas, run_dir, *args):
    trained.append(cell.per_replica_batch)
    row = {'line': cell.line, 'per_replica_batch': cell.per_replica_batch,
           'global_batch': 2 * cell.per_replica_batch, 'seed': cell.seed,
           'val_error': 0.1, 'steps': 1, 'wall_s': 1.0, 'status': 'ok'}
    if cell.per_replica_batch == 4:  # Meanwhile the other study records 2.
      other.put({**row, 'per_replica_batch': 2, 'global_batch': 4})
    return row

  monkeypatch.setattr(engine, 'run_cell', run_cell)
  other = runner.ResultsFile(
      os.path.join(results_dir, runner.RESULTS_FILE), engine.KEY_FIELDS,
      {'experiment': 'resnet_gn_digits', 'cpu_replicas': 2,
       'params_override': '', 'base_learning_rate': None})
  log = []
  # The other study is training the cell at 8.
  with runner.exclusive(os.path.join(output_dir, 'locks',
                                     'group_norm_b8_s0.lock')) as held:
    assert held
    rows, _ = engine.run_cells('resnet_gn_digits', ['group_norm'], [8, 4, 2],
                               [0], 2, output_dir, results_dir,
                               log=log.append)
  assert trained == [4]
  assert [r['per_replica_batch'] for r in rows] == [4, 2]  # 8: not yet.
  assert log[1].endswith('seed 0: running in another process; skipped.')
  assert log[3].endswith('seed 0: done by another process; skipped.')
