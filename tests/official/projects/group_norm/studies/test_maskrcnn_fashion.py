"""The Mask R-CNN Fashion study: rows, the parity gate, the runner, claims."""

import os
import re
import shutil
import threading
import time

import numpy as np
import pytest
import tensorflow as tf
import yaml

from official.core import task_factory
from official.modeling.hyperparams import params_dict
from official.projects.group_norm import runner
from official.projects.group_norm.configs import common
from official.projects.group_norm.studies import maskrcnn_fashion as study


def _rows(values):
  """Result rows from {row: {seed: (box AP, mask AP)}} in points."""
  return [{'row': row, 'seed': seed, 'AP': box / 100, 'AP50': 0.9,
           'mask_AP': mask / 100}
          for row, seeds in values.items()
          for seed, (box, mask) in seeds.items()]


def _papers_pattern():
  """Every row at every seed, with the paper's ordering."""
  values = {}
  for name, row in study.ROWS.items():
    box, mask = study.PAPER[name]
    box = 38.0 if box is None else box  # SyncBN from scratch: below GN.
    mask = 34.0 if mask is None else mask
    values[name] = {s: (box + 0.1 * s, mask + 0.1 * s) for s in row.seeds}
  return values


def test_the_papers_pattern_holds_every_claim():
  results = study.claims(_rows(_papers_pattern()))
  assert [c.held for c in results] == [True] * 4
  assert '95% CI' in results[0].evidence  # Three seeds: an interval.


@pytest.mark.parametrize('claim,row,shift', [
    (0, 'gn', (-3.0, 0.0)),  # GN's box AP below BN*'s.
    (1, 'gn', (0.0, -1.0)),  # GN's mask AP below BN*'s.
    (2, 'gn_2x', (-0.6, 0.0)),  # The long schedule gains 0.4 < 0.5.
    (3, 'gn_scratch', (-2.0, 0.0)),  # GN from scratch below SyncBN.
])
def test_each_claim_fails_on_its_own_counterexample(claim, row, shift):
  values = _papers_pattern()
  values[row] = {s: (b + shift[0], m + shift[1])
                 for s, (b, m) in values[row].items()}
  held = [c.held for c in study.claims(_rows(values))]
  assert held[claim] is False
  assert held.count(False) == 1, held


def test_a_row_missing_a_seed_is_not_measured():
  values = _papers_pattern()
  del values['bn_frozen'][2]
  held = [c.held for c in study.claims(_rows(values))]
  assert held[:2] == [None, None] and held[2:] == [True, True]


def test_parity_passes_within_one_point_and_names_the_laggard_beyond():
  ok, message = study.parity({'batch_norm': {0: 90.0, 1: 90.4},
                              'group_norm': {0: 89.5, 1: 89.9}})
  assert ok and '0.50 points apart' in message
  ok, message = study.parity({'batch_norm': {0: 90.0, 1: 91.0},
                              'group_norm': {0: 88.5, 1: 89.0}})
  assert not ok
  assert 'group_norm is behind by 1.75 points' in message


def test_parity_fails_while_a_pretraining_seed_is_missing():
  ok, message = study.parity({'batch_norm': {0: 90.0, 1: 90.0},
                              'group_norm': {0: 90.0}})
  assert not ok and "'group_norm': [1]" in message


def test_fine_tuning_seeds_take_turns_over_the_pretraining_seeds():
  assert [study.pretrain_seed(s) for s in range(3)] == [0, 1, 0]


def test_rows_match_the_issue():
  assert {n: len(r.seeds) for n, r in study.ROWS.items()
          if len(r.seeds) > 1} == {'bn_frozen': 3, 'gn': 3}
  assert {n for n, r in study.ROWS.items() if r.schedule_scale == 2} == {
      'bn_frozen_2x', 'gn_2x'}
  assert {n for n, r in study.ROWS.items() if r.pretrained is None} == {
      'gn_scratch', 'sync_bn_scratch'}
  assert {n for n, r in study.ROWS.items() if r.frozen_stages == 2} == {
      'bn_frozen', 'bn_frozen_gn_heads', 'bn_frozen_2x'}
  assert not study.PROTOCOL_FIXED


def test_the_backbone_has_the_papers_share_of_channels_per_group():
  backbone = common.get_exp_config(
      study.EXPERIMENT).task.model.backbone.resnet_gn
  narrowest = int(64 * backbone.depth_multiplier)
  assert narrowest // backbone.groups == study.CHANNELS_PER_GROUP == 2


def test_pretraining_builds_the_backbone_mask_rcnn_fine_tunes():
  pretrain = common.get_exp_config(
      study.PRETRAIN_EXPERIMENT).task.model.backbone.resnet_gn
  fine_tune = common.get_exp_config(
      study.EXPERIMENT).task.model.backbone.resnet_gn
  fields = ('model_id', 'depth_multiplier', 'norm', 'groups', 'group_size',
            'stem_type', 'num_stages', 'weight_standardization')
  assert ({f: getattr(pretrain, f) for f in fields} ==
          {f: getattr(fine_tune, f) for f in fields})


def _row_params(name):
  params = common.get_exp_config(study.EXPERIMENT)
  params.override(study.row_overrides(name, params), is_strict=True)
  params.validate()
  return params


@pytest.mark.parametrize('name,backbone,frozen,heads', [
    ('bn_frozen', 'frozen_batch_norm', 2, None),
    ('bn_frozen_gn_heads', 'frozen_batch_norm', 2, 'group_norm'),
    ('bn_frozen_2x', 'frozen_batch_norm', 2, None),
    ('gn', 'group_norm', 0, 'group_norm'),
    ('gn_2x', 'group_norm', 0, 'group_norm'),
    ('gn_scratch', 'group_norm', 0, 'group_norm'),
    ('sync_bn_scratch', 'sync_batch_norm', 0, 'sync_batch_norm'),
])
def test_each_row_normalizes_and_freezes_as_the_paper(name, backbone, frozen,
                                                      heads):
  model = _row_params(name).task.model
  assert model.backbone.resnet_gn.norm == backbone
  assert model.backbone.resnet_gn.frozen_stages == frozen
  assert (model.decoder.fpn_gn.norm, model.detection_head.norm,
          model.mask_head.norm) == (heads,) * 3
  assert model.rpn_head.norm is None  # The paper's RPN, every row.


def test_pretrained_rows_initialize_the_backbone_and_scratch_rows_nothing():
  for name, row in study.ROWS.items():
    task = _row_params(name).task
    assert (task.init_checkpoint_modules == 'backbone') == bool(
        row.pretrained), name


def test_every_row_fine_tunes_at_detectrons_rate_per_image():
  base = common.get_exp_config(study.EXPERIMENT)
  batch = base.task.train_data.global_batch_size
  for name in study.ROWS:
    optimizer = _row_params(name).trainer.optimizer_config
    # Detectron: 0.02 for 16 images, / 10 at each drop, warm-up from a third.
    assert optimizer.learning_rate.stepwise.values == pytest.approx(
        [0.02 * batch / 16, 0.002 * batch / 16, 0.0002 * batch / 16]), name
    assert optimizer.warmup.linear.warmup_learning_rate == pytest.approx(
        0.02 * batch / 16 / 3), name
    assert (optimizer.warmup.linear.warmup_steps ==
            base.trainer.optimizer_config.warmup.linear.warmup_steps), name


def test_the_2x_rows_train_twice_as_long_at_the_same_rates():
  base, long = _row_params('gn').trainer, _row_params('gn_2x').trainer
  assert long.train_steps == 2 * base.train_steps
  assert long.validation_interval == 2 * base.validation_interval
  base_lr = base.optimizer_config.learning_rate.stepwise
  long_lr = long.optimizer_config.learning_rate.stepwise
  assert long_lr.boundaries == [2 * b for b in base_lr.boundaries]
  assert long_lr.values == base_lr.values
  assert (long.optimizer_config.warmup.as_dict() ==
          base.optimizer_config.warmup.as_dict())


def _store_backbone(run_dir, prefix):
  """Stands in for study.store_backbone: the stored checkpoint's index."""
  del run_dir
  os.makedirs(os.path.dirname(prefix), exist_ok=True)
  with open(prefix + '.index', 'w'):
    pass
  return prefix


class _FakeRuns:
  """Stands in for runner.run_train: records commands, returns metrics."""

  def __init__(self, accuracy):
    self.commands = []
    self.accuracy = accuracy  # {norm: top-1 fraction}

  def __call__(self, command, run_dir):
    self.commands.append(command)
    if 'resnet_gn_fashion_scenes_pretrain' in ' '.join(command):
      norm = re.search(r'resnet_gn\.norm=(\w+)', command[-1]).group(1)
      metrics = {'accuracy': self.accuracy[norm], 'global_step': 10}
    else:
      metrics = {'global_step': 10, 'AP': 0.5, 'AP50': 0.8, 'mask_AP': 0.45}
    return runner.RunResult(0, 1.0, metrics, os.path.join(run_dir, 'log'))


def _fake_runs(monkeypatch, accuracy):
  fake = _FakeRuns(accuracy)
  monkeypatch.setattr(runner, 'run_train', fake)
  monkeypatch.setattr(study, 'store_backbone', _store_backbone)
  return fake


def _study(monkeypatch, accuracy):
  fake = _fake_runs(monkeypatch, accuracy)
  monkeypatch.setattr(study, 'PROTOCOL_FIXED', True)
  return fake


def test_no_counted_run_before_the_pilot_fixes_the_protocol(tmp_path):
  with pytest.raises(RuntimeError, match='pilot has not fixed'):
    study.run_study(['gn'], str(tmp_path / 'runs'), str(tmp_path / 'docs'))
  assert not os.path.exists(tmp_path / 'runs')


def test_unequal_backbones_stop_the_study_before_any_fine_tuning(
    tmp_path, monkeypatch):
  fake = _study(monkeypatch, {'batch_norm': 0.90, 'group_norm': 0.87})
  with pytest.raises(RuntimeError, match='group_norm is behind by 3.00'):
    study.run_study(['gn', 'bn_frozen'], str(tmp_path / 'runs'),
                    str(tmp_path / 'docs'), log=lambda _: None)
  assert len(fake.commands) == 4  # Two norms x two seeds, nothing else.


def test_a_failed_run_stops_the_study_naming_it(tmp_path, monkeypatch):
  fake = _study(monkeypatch, {'batch_norm': 0.90, 'group_norm': 0.90})

  def fails_for_gn(command, run_dir):
    if 'resnet_gn.norm=group_norm' in command[-1]:
      os.makedirs(run_dir, exist_ok=True)
      with open(os.path.join(run_dir, 'log'), 'w') as f:
        f.write('ResourceExhaustedError: out of memory\n')
      return runner.RunResult(1, 1.0, None, os.path.join(run_dir, 'log'))
    return fake(command, run_dir)

  monkeypatch.setattr(runner, 'run_train', fails_for_gn)
  with pytest.raises(RuntimeError, match=r'Pretraining group_norm \(seed 0\)'
                     r' failed \(exit 1\): ResourceExhaustedError'):
    study.run_study(['gn'], str(tmp_path / 'runs'), str(tmp_path / 'docs'),
                    log=lambda _: None)
  # The finished pretrainings are kept for the resumed study.
  assert [(r['row'], r['seed']) for r in runner.read_rows(
      str(tmp_path / 'docs'))] == [('pretrain_batch_norm', 0),
                                   ('pretrain_batch_norm', 1)]


def test_rows_fine_tune_from_their_norms_backbones_and_resume(tmp_path,
                                                              monkeypatch):
  fake = _study(monkeypatch, {'batch_norm': 0.900, 'group_norm': 0.895})
  runs, docs = str(tmp_path / 'runs'), str(tmp_path / 'docs')
  rows = study.run_study(['gn', 'bn_frozen', 'gn_scratch'], runs, docs,
                         log=lambda _: None)
  assert [(r['row'], r['seed']) for r in rows] == [
      ('gn', 0), ('bn_frozen', 0), ('gn_scratch', 0), ('gn', 1),
      ('bn_frozen', 1), ('gn', 2), ('bn_frozen', 2)]
  fine_tunes = fake.commands[4:]
  with open(os.path.join(runs, 'bn_frozen_s1', 'row.yaml')) as f:
    bn_star = yaml.safe_load(f)['task']
  assert bn_star['init_checkpoint'] == os.path.join(
      docs, 'backbones', 'pretrain_batch_norm_s1', 'backbone')
  assert bn_star['model']['backbone']['resnet_gn']['frozen_stages'] == 2
  with open(os.path.join(runs, 'gn_s2', 'row.yaml')) as f:
    assert yaml.safe_load(f)['task']['init_checkpoint'].endswith(
        os.path.join('pretrain_group_norm_s0', 'backbone'))
  with open(os.path.join(runs, 'gn_scratch_s0', 'row.yaml')) as f:
    assert 'init_checkpoint' not in yaml.safe_load(f)['task']
  assert all('--seed=' in ' '.join(c) for c in fine_tunes)
  again = study.run_study(['gn', 'bn_frozen', 'gn_scratch'], runs, docs,
                          log=lambda _: None)
  assert again == rows and len(fake.commands) == 4 + 7  # Nothing reran.
  assert [c.held for c in study.claims(runner.read_rows(docs))][:2] == [
      True, True]  # Equal fake APs: GN at least BN*.


def test_rows_resume_from_the_stored_backbones_not_the_run_folders(
    tmp_path, monkeypatch):
  fake = _study(monkeypatch, {'batch_norm': 0.900, 'group_norm': 0.895})
  runs, docs = str(tmp_path / 'runs'), str(tmp_path / 'docs')
  study.run_study(['gn'], runs, docs, log=lambda _: None)
  shutil.rmtree(runs)  # A fresh clone: the results and backbones, no runs.
  lost = study.stored_backbone(os.path.join(docs, 'backbones'), 'batch_norm',
                               0)
  os.remove(lost + '.index')
  with pytest.raises(RuntimeError, match=r'bn_frozen row \(seed 0\) '
                     r'fine-tunes the backbone .*pretrain_batch_norm_s0.'
                     'backbone, which is not there'):
    study.run_study(['gn', 'bn_frozen'], runs, docs, log=lambda _: None)
  assert len(fake.commands) == 4 + 3  # Nothing ran: no pretraining again.
  with pytest.raises(ValueError, match='give the folder of the stored'):
    study.fine_tune('bn_frozen', 0, runs, runner.ResultsFile(
        os.path.join(docs, runner.RESULTS_FILE), study.KEY_FIELDS,
        {'experiment': study.EXPERIMENT,
         'pretrain_experiment': study.PRETRAIN_EXPERIMENT}),
                    log=lambda _: None)
  _store_backbone(None, lost)
  study.run_study(['gn', 'bn_frozen'], runs, docs, log=lambda _: None)
  assert len(fake.commands) == 4 + 3 + 3  # Only bn_frozen's seeds ran.


@pytest.mark.slow
def test_a_stored_backbone_is_the_pretrained_one_and_loads_into_mask_rcnn(
    tmp_path):
  run_dir = str(tmp_path / 'pretrain_group_norm_s0')
  os.makedirs(run_dir)
  params = common.get_exp_config(study.PRETRAIN_EXPERIMENT)
  params_dict.save_params_dict_to_yaml(
      params, os.path.join(run_dir, 'params.yaml'))
  classifier = task_factory.get_task(params.task).build_model()
  for variable in classifier.variables:  # Away from any initial value.
    variable.assign_add(tf.fill(variable.shape, 0.5))
  # As Model Garden's trainer checkpoints a classification run.
  tf.train.CheckpointManager(tf.train.Checkpoint(
      model=classifier, **classifier.checkpoint_items), run_dir, 1).save()
  prefix = study.store_backbone(run_dir, str(tmp_path / 'stored' / 'backbone'))
  assert {name.split('/')[0] for name, _ in tf.train.list_variables(
      prefix)} == {'backbone', '_CHECKPOINTABLE_OBJECT_GRAPH'}
  fine = common.get_exp_config(study.EXPERIMENT)
  fine.override(study.row_overrides('gn', fine), is_strict=True)
  mask_rcnn = task_factory.get_task(fine.task).build_model()
  # What Model Garden's initialisation does with modules 'backbone'.
  tf.train.Checkpoint(backbone=mask_rcnn.backbone).read(
      prefix).expect_partial().assert_existing_objects_matched()
  pretrained = classifier.backbone.variables
  loaded = mask_rcnn.backbone.variables
  assert [v.name for v in pretrained] == [v.name for v in loaded]
  for a, b in zip(pretrained, loaded):
    np.testing.assert_array_equal(a.numpy(), b.numpy())
  with pytest.raises(FileNotFoundError, match='No checkpoint in'):
    study.store_backbone(str(tmp_path / 'stored'), prefix + '2')


def test_two_processes_split_the_runs_and_wait_for_the_gates(tmp_path,
                                                            monkeypatch):
  fake = _study(monkeypatch, {'batch_norm': 0.900, 'group_norm': 0.895})
  runs, docs = str(tmp_path / 'runs'), str(tmp_path / 'docs')
  other = runner.ResultsFile(os.path.join(docs, runner.RESULTS_FILE),
                             study.KEY_FIELDS, {
                                 'experiment': study.EXPERIMENT,
                                 'pretrain_experiment':
                                     study.PRETRAIN_EXPERIMENT})
  released = threading.Event()

  def other_process(name, seed, row, finish):
    """Holds (name, seed)'s lock, as a second study training it would."""
    held = threading.Event()

    def hold():
      with runner.exclusive(os.path.join(runs, 'locks',
                                         f'{name}_s{seed}.lock')):
        held.set()
        if finish:  # It records its run, then lets go.
          time.sleep(0.3)
          _store_backbone(None, study.stored_backbone(
              os.path.join(docs, 'backbones'), 'group_norm', seed))
          other.put({'row': name, 'seed': seed, **row})
        else:
          released.wait()

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait()
    return thread

  pretraining = other_process('pretrain_group_norm', 1, {'accuracy': 0.9},
                              finish=True)
  fine_tuning = other_process('gn', 0, {}, finish=False)
  rows = study.run_study(['gn', 'bn_frozen'], runs, docs, log=lambda _: None)
  released.set()
  pretraining.join()
  fine_tuning.join()
  # Three pretrainings here, the fourth awaited; the gate saw all four.
  assert len([c for c in fake.commands
              if study.PRETRAIN_EXPERIMENT in ' '.join(c)]) == 3
  assert ('gn', 0) not in [(r['row'], r['seed']) for r in rows]
  assert len(rows) == 5 and len(fake.commands) == 3 + 5


def test_the_pilot_runs_seed_0_apart_from_the_counted_results(tmp_path,
                                                              monkeypatch):
  fake = _fake_runs(monkeypatch, {'batch_norm': 0.90, 'group_norm': 0.85})
  # PROTOCOL_FIXED stays False.
  runs, docs = str(tmp_path / 'runs'), str(tmp_path / 'docs')
  rows = study.run_pilot('short', runs, docs, 'trainer.train_steps=7',
                         'trainer.train_steps=9', log=lambda _: None)
  assert [(r['row'], r['seed']) for r in rows] == [('gn', 0), ('bn_frozen', 0)]
  pretraining, fine_tuning = fake.commands[:2], fake.commands[2:]
  assert all(c[-1].endswith(',trainer.train_steps=7') for c in pretraining)
  assert all(c[-1] == '--params_override=trainer.train_steps=9'
             for c in fine_tuning)
  assert len(fake.commands) == 4  # No parity gate: seed 0 of each, 2 rows.
  with open(os.path.join(runs, 'pilot', 'short', 'gn_s0', 'row.yaml')) as f:
    assert yaml.safe_load(f)['task']['init_checkpoint'] == os.path.join(
        runs, 'pilot', 'short', 'backbones', 'pretrain_group_norm_s0',
        'backbone')  # A pilot's backbones stay out of the results folder.
  assert runner.read_rows(docs) == []  # Nothing counted.
  assert len(runner.read_rows(os.path.join(docs, 'pilot', 'short'))) == 4
  with pytest.raises(ValueError, match='plain folder name'):
    study.run_pilot('../x', runs, docs)


def test_a_pilot_fine_tunes_an_earlier_pilots_backbones_longer(tmp_path,
                                                               monkeypatch):
  fake = _fake_runs(monkeypatch, {'batch_norm': 0.90, 'group_norm': 0.85})
  runs, docs = str(tmp_path / 'runs'), str(tmp_path / 'docs')
  with pytest.raises(ValueError, match=r"No pretraining recorded for .*"
                     r"\('batch_norm', 0\), \('group_norm', 0\)"):
    study.run_pilot('long', runs, docs, pretrained_from='short')
  with pytest.raises(ValueError, match='plain folder name'):
    study.run_pilot('long', runs, docs, pretrained_from='../short')
  study.run_pilot('short', runs, docs, log=lambda _: None)
  rows = study.run_pilot('long', runs, docs, pretrained_from='short',
                         schedule_scale=2, log=lambda _: None)
  assert len(rows) == 2 and len(fake.commands) == 4 + 2  # No pretraining.
  base = common.get_exp_config(study.EXPERIMENT).trainer
  with open(os.path.join(runs, 'pilot', 'long', 'gn_s0', 'row.yaml')) as f:
    row = yaml.safe_load(f)
  assert row['task']['init_checkpoint'] == os.path.join(
      runs, 'pilot', 'short', 'backbones', 'pretrain_group_norm_s0',
      'backbone')
  assert row['trainer']['train_steps'] == 2 * base.train_steps
