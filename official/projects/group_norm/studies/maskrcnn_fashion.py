r"""Mask R-CNN as the paper compared it, on scenes of real objects (issue 25).

  python -m official.projects.group_norm.studies.maskrcnn_fashion \
      [--rows=gn,bn_frozen] [--report_only] --output_dir=runs/maskrcnn_fashion \
      --results_dir=official/projects/group_norm/docs/maskrcnn_fashion

`--pilot=NAME [--pilot_pretrain_override=..] [--pilot_override=..]` runs the
difficulty pilot instead: both norms pretrained and `PILOT_ROWS` fine-tuned
at seed 0, under `pilot/NAME` of the run and results folders, counting for
no claim.

What is fixed here, before any counted run: the rows (`ROWS`, the paper's
Tables 5-7 at our scale) with their seeds, the pretraining parity gate
(`parity`) and the claims (`claims`), each printed with its paired difference
over seeds and 95% interval; the study's exit status is the claims. Built,
not yet run: the pretraining experiment (`PRETRAIN_EXPERIMENT`:
Fashion-MNIST over photographs at the scenes' item scale, the backbone
exactly as Mask R-CNN builds it, with the paper's share of channels per
group, `CHANNELS_PER_GROUP`), each row's config (`row_overrides`: its
norms, the BN* rows' freezing, the 2x schedule, Detectron's learning rate
per image) and the runner (`run_study`:
each norm pretrained at seeds 0 and 1, the parity gate, then the rows'
seeds, every run recorded in the results file, the resume state). Not done:
the difficulty pilot of `maskrcnn_gn_fashion_scenes` (the best row's box AP
within `PILOT_BAND`, its AP50 at most `MAX_AP50`). Until the pilot commits
its setting (`PROTOCOL_FIXED`), this module runs nothing: `--report_only`
reports what is recorded (nothing yet).

The rows' fine-tuning shares one schedule and one per-image learning rate;
the '2x' rows train twice as long (the paper's "long" schedule). Each
pretrained row starts from its own norm's backbone: fine-tuning seed s from
that norm's pretraining seed s mod 2.
"""

import dataclasses
import math
import os
import sys
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf
import yaml

from official.core import task_factory
from official.modeling.hyperparams import params_dict
from official.projects.group_norm import registry_imports  # noqa: F401 (registers the experiments)
from official.projects.group_norm import runner
from official.projects.group_norm.configs import common
from official.projects.group_norm.data import input_checks
from official.projects.group_norm.studies import engine
from official.projects.group_norm.studies import stats

EXPERIMENT = 'maskrcnn_gn_fashion_scenes'
PRETRAIN_EXPERIMENT = 'resnet_gn_fashion_scenes_pretrain'
# Set when the pilot has fixed the scenes' difficulty and the pretraining
# schedule: not yet.
PROTOCOL_FIXED = False
PILOT_BAND = (0.40, 0.75)  # The best row's mean box AP.
MAX_AP50 = 0.92  # Its AP50 at most: off the ceiling.
# The paper's share: G = 32 on ResNet-50's narrowest 64 channels. The Mask
# R-CNN backbone here is ResNet-18 at half width (32 channels at its
# narrowest), so G = 16 in the backbone.
CHANNELS_PER_GROUP = 2
PRETRAIN_NORMS = ('batch_norm', 'group_norm')
PRETRAIN_SEEDS = (0, 1)
PARITY = 1.0  # Points of top-1 between the two norms' mean pretraining.
GN_LONG_GAIN = 0.5  # Box AP points GN at 2x must gain over GN at 1x.
# Detectron's fine-tuning rate per image (0.02 for 16 images, warm-up from a
# third of it), every row's: `maskrcnn_gn_shapes`' 0.02 for 2 images is 8x.
DETECTRON_LR_PER_IMAGE = 0.02 / 16
METRICS = ('AP', 'AP50', 'mask_AP')
# The counted study stores its backbones here, beside its results file (a
# pilot, in its run folder).
BACKBONES_FOLDER = 'backbones'


@dataclasses.dataclass(frozen=True)
class Row:
  """One row of the table.

  Attributes:
    description: The table's words for it.
    pretrained: The norm of the backbone it starts from; None from scratch.
    backbone_norm: The backbone's norm in fine-tuning.
    head_norm: The FPN's, box head's and mask head's (None: no norm, their
      convolutions get biases). The RPN head has none in every row.
    schedule_scale: 1 for the base schedule, 2 for the paper's "long".
    seeds: Fine-tuning seeds.
    frozen_stages: The backbone's stages kept fixed (`ResNetGN`'s
      `frozen_stages`): 2, the stem and first block group, in the BN* rows,
      as Detectron freezes them.
  """
  description: str
  pretrained: Optional[str]
  backbone_norm: str
  head_norm: Optional[str]
  schedule_scale: float
  seeds: Tuple[int, ...]
  frozen_stages: int = 0


_BN_STAR = dict(pretrained='batch_norm', backbone_norm='frozen_batch_norm',
                frozen_stages=2)
_GN = dict(backbone_norm='group_norm', head_norm='group_norm')
ROWS = {
    'bn_frozen': Row('BN*: frozen BN-pretrained backbone, no norm in FPN '
                     'and heads', head_norm=None, schedule_scale=1,
                     seeds=(0, 1, 2), **_BN_STAR),
    'bn_frozen_gn_heads': Row('BN* backbone, GN in FPN and heads',
                              head_norm='group_norm', schedule_scale=1,
                              seeds=(0,), **_BN_STAR),
    'gn': Row('GN-pretrained backbone, GN in FPN and heads', 'group_norm',
              schedule_scale=1, seeds=(0, 1, 2), **_GN),
    'bn_frozen_2x': Row('BN*, 2x schedule', head_norm=None, schedule_scale=2,
                        seeds=(0,), **_BN_STAR),
    'gn_2x': Row('GN, 2x schedule', 'group_norm', schedule_scale=2,
                 seeds=(0,), **_GN),
    'gn_scratch': Row('GN from scratch, every part', None, schedule_scale=1,
                      seeds=(0,), **_GN),
    'sync_bn_scratch': Row('SyncBN from scratch, every part', None,
                           'sync_batch_norm', 'sync_batch_norm', 1, (0,)),
}


def row_overrides(name: str, params, schedule_scale: float = 1.0) -> Dict:
  """A row's config diff over `EXPERIMENT`'s `params` (for `override`).

  The pretrained backbone's checkpoint path is the runner's to add
  (`task.init_checkpoint`); this sets what the row normalizes with, what it
  freezes, which modules it initializes and, for the 2x rows, the schedule
  twice as long (training steps, learning-rate boundaries, checkpoint and
  evaluation intervals), and every row's learning rate: Detectron's per
  image (`DETECTRON_LR_PER_IMAGE`) times the global batch.
  """
  row = ROWS[name]
  model = {'backbone': {'resnet_gn': {'norm': row.backbone_norm,
                                      'frozen_stages': row.frozen_stages}},
           'decoder': {'fpn_gn': {'norm': row.head_norm}},
           'detection_head': {'norm': row.head_norm},
           'mask_head': {'norm': row.head_norm}}
  overrides = {'task': {'model': model}}
  if row.pretrained:
    overrides['task']['init_checkpoint_modules'] = 'backbone'
  trainer = engine.scaled_schedule(  # A pilot's scale, too.
      params.trainer, row.schedule_scale * schedule_scale)
  # The experiment's schedule (its drops, its warm-up's start) at a new rate.
  optimizer = params.trainer.optimizer_config
  values = optimizer.learning_rate.stepwise.values
  rescale = (DETECTRON_LR_PER_IMAGE * params.task.train_data.global_batch_size
             / values[0])
  trainer['optimizer_config']['learning_rate']['stepwise']['values'] = [
      v * rescale for v in values]
  trainer['optimizer_config']['warmup'] = {'linear': {
      'warmup_learning_rate':
          optimizer.warmup.linear.warmup_learning_rate * rescale}}
  overrides['trainer'] = trainer
  return overrides


# The paper's Tables 5-7 (COCO, ResNet-50, box AP / mask AP), beside ours.
PAPER = {'bn_frozen': (37.7, 34.1), 'bn_frozen_gn_heads': (38.6, 34.2),
         'gn': (40.0, 34.8), 'bn_frozen_2x': (38.6, 34.5),
         'gn_2x': (41.0, 36.4), 'gn_scratch': (39.5, 35.2),
         'sync_bn_scratch': (None, None)}


def pretrain_seed(fine_tune_seed: int) -> int:
  """The pretraining seed whose backbone a fine-tuning seed starts from."""
  return PRETRAIN_SEEDS[fine_tune_seed % len(PRETRAIN_SEEDS)]


def parity(accuracies: Mapping[str, Mapping[int, float]]
           ) -> Tuple[bool, str]:
  """The gate before any fine-tuning: both norms' backbones equally good.

  Args:
    accuracies: {norm: {pretraining seed: top-1 %}} of `PRETRAIN_NORMS`.

  Returns:
    (passed, what to print): it fails, naming the norm behind and by how
    much, when the mean accuracies differ by more than `PARITY` points, or
    when a norm lacks one of `PRETRAIN_SEEDS`.
  """
  missing = {norm: sorted(set(PRETRAIN_SEEDS) - set(accuracies.get(norm, {})))
             for norm in PRETRAIN_NORMS}
  missing = {norm: seeds for norm, seeds in missing.items() if seeds}
  if missing:
    return False, f'Pretraining seeds missing: {missing}.'
  means = {norm: float(np.mean([accuracies[norm][s] for s in PRETRAIN_SEEDS]))
           for norm in PRETRAIN_NORMS}
  behind = min(means, key=means.get)
  gap = max(means.values()) - means[behind]
  summary = ', '.join(f'{norm} {means[norm]:.2f}%' for norm in means)
  if gap > PARITY:
    return False, (f'No parity: {behind} is behind by {gap:.2f} points '
                   f'({summary}; the gate is {PARITY}). No fine-tuning runs '
                   'on unequal backbones.')
  return True, f'Parity: {summary}, {gap:.2f} points apart (gate {PARITY}).'


def by_seed(rows: Sequence[Dict], metric: str) -> Dict[str, Dict[int, float]]:
  """{row: {seed: metric in points}} of the recorded fine-tuning rows."""
  table = {}
  for r in rows:
    if r.get('row') in ROWS and not math.isnan(r.get(metric, math.nan)):
      table.setdefault(r['row'], {})[r['seed']] = 100 * r[metric]
  return table


def _complete(values: Dict[int, float], row: str) -> bool:
  return set(ROWS[row].seeds) <= set(values)


def claims(rows: Sequence[Dict]) -> List[stats.Claim]:
  """The claims over the recorded rows; a row missing a seed is unmeasured."""
  box, mask = by_seed(rows, 'AP'), by_seed(rows, 'mask_AP')
  results = []

  def compare(table, a, b, statement, paper, margin=0.0):
    if not (_complete(table.get(a, {}), a) and
            _complete(table.get(b, {}), b)):
      results.append(stats.Claim(statement, None, f'{a} or {b} not all in'))
      return
    d = stats.paired_difference(table[a], table[b])
    means = {k: float(np.mean(list(table[k].values()))) for k in (a, b)}
    results.append(stats.Claim(
        statement, means[a] - means[b] >= margin,
        f'{a} - {b}: {d}; means {means[a]:.2f} and {means[b]:.2f} '
        f'(paper {paper})'))

  compare(box, 'gn', 'bn_frozen', "GN's mean box AP at least BN*'s",
          '+2.3: 40.0 vs 37.7')
  compare(mask, 'gn', 'bn_frozen', "GN's mean mask AP at least BN*'s",
          '+0.7: 34.8 vs 34.1')
  compare(box, 'gn_2x', 'gn', f'GN at 2x at least GN at 1x + {GN_LONG_GAIN} '
          'box AP', '+1.0: 41.0 vs 40.0', GN_LONG_GAIN)
  compare(box, 'gn_scratch', 'sync_bn_scratch',
          'GN from scratch at least SyncBN from scratch (box AP)',
          'Table 7: GN 39.5 from scratch')
  return results


KEY_FIELDS = ('row', 'seed')


def pretrain_name(norm: str) -> str:
  """The results' row name (and run folder prefix) of a norm's pretraining."""
  return f'pretrain_{norm}'


def _take_run(output_dir: str, name: str, seed: int,
              results: runner.ResultsFile):
  """`runner.take_run` for (name, seed): 'done', 'elsewhere' or 'mine'."""
  return runner.take_run(
      output_dir, f'{name}_s{seed}', results,
      lambda: results.get(row=name, seed=seed) is not None)


def stored_backbone(backbones_dir: str, norm: str, seed: int) -> str:
  """The checkpoint (path prefix) of a pretraining's stored backbone."""
  return os.path.join(backbones_dir, f'{pretrain_name(norm)}_s{seed}',
                      'backbone')


def store_backbone(run_dir: str, prefix: str) -> str:
  """Writes a pretraining run's backbone alone at `prefix`; returns it.

  Rows read it as their `task.init_checkpoint` (modules 'backbone'). A run
  folder stays on the machine that trained it, and its checkpoint carries
  the optimizer's slots and the classifier; the backbone alone (2.8 M
  float32 values, 11 MB) can go beside the results file, so that rows
  resume on a fresh clone.

  Raises:
    FileNotFoundError: if `run_dir` holds no checkpoint.
  """
  checkpoint = tf.train.latest_checkpoint(run_dir)
  if checkpoint is None:
    raise FileNotFoundError(f'No checkpoint in {run_dir}.')
  params = params_dict.override_params_dict(
      common.get_exp_config(PRETRAIN_EXPERIMENT),
      os.path.join(run_dir, 'params.yaml'), is_strict=False)
  backbone = task_factory.get_task(params.task).build_model().backbone
  tf.train.Checkpoint(backbone=backbone).read(
      checkpoint).expect_partial().assert_existing_objects_matched()
  return tf.train.Checkpoint(backbone=backbone).write(prefix)


def pretrain(output_dir: str, results: runner.ResultsFile,
             backbones_dir: str, seeds: Sequence[int] = PRETRAIN_SEEDS,
             override: str = '', log=print) -> Dict[str, Dict[int, float]]:
  """Pretrains each norm at each of `seeds` that is not recorded.

  Each backbone is stored (`store_backbone`) before its run is recorded.
  Two processes on one output folder split the pretrainings (each runs under
  its lock); each then waits for the other's, which the gate needs.

  Args:
    output_dir: One run folder per (norm, seed) goes here.
    results: The results file, the resume state.
    backbones_dir: The backbones are stored here (`stored_backbone`).
    seeds: The pretraining seeds.
    override: More `--params_override` (the pilot's).
    log: Progress goes here.

  Returns:
    {norm: {seed: validation top-1 %}}, for `parity`.

  Raises:
    RuntimeError: if a pretraining run fails.
  """
  elsewhere = []  # Pretrainings another process is running.
  for norm in PRETRAIN_NORMS:
    for seed in seeds:
      name = pretrain_name(norm)
      with _take_run(output_dir, name, seed, results) as taken:
        if taken != 'mine':
          if taken == 'elsewhere':
            elsewhere.append((name, seed))
          continue
        run_dir = os.path.join(output_dir, f'{name}_s{seed}')
        log(f'Pretraining {norm}, seed {seed} ({PRETRAIN_EXPERIMENT}), logs '
            f'in {run_dir}')
        command = runner.train_command(
            PRETRAIN_EXPERIMENT, run_dir, cpu_replicas=2, seed=seed,
            params_override=','.join(
                filter(None, [f'task.model.backbone.resnet_gn.norm={norm}',
                              override])))
        result = runner.run_train(command, run_dir).check(
            f'Pretraining {norm} (seed {seed})')
        store_backbone(run_dir, stored_backbone(backbones_dir, norm, seed))
        results.put({'row': name, 'seed': seed,
                     'accuracy': result.metrics['accuracy'],
                     'steps': result.metrics['global_step'],
                     'wall_s': result.wall_s,
                     **engine.error_curves(result.history)})
  for name, seed in elsewhere:  # The gate needs them: wait for each.
    log(f'Waiting for another process\'s {name}, seed {seed}.')
    with runner.run_lock(output_dir, f'{name}_s{seed}', wait=True):
      results.reload()
  accuracies = backbone_accuracies(results.rows, seeds)
  for norm, by_seed in accuracies.items():
    for seed, accuracy in by_seed.items():
      log(f'  {norm} backbone, seed {seed}: top-1 {accuracy:.2f}%')
  return accuracies


def backbone_accuracies(rows: Sequence[Dict], seeds: Sequence[int]
                        ) -> Dict[str, Dict[int, float]]:
  """{norm: {seed: validation top-1 %}} of the recorded pretrainings.

  Raises:
    ValueError: naming the (norm, seed) pretrainings `rows` lacks.
  """
  found = {(r['row'], r['seed']): r['accuracy'] for r in rows
           if r['row'].startswith('pretrain_')}
  missing = [(norm, seed) for norm in PRETRAIN_NORMS for seed in seeds
             if (pretrain_name(norm), seed) not in found]
  if missing:
    raise ValueError(f'No pretraining recorded for (norm, seed) {missing}: '
                     'run it first.')
  return {norm: {seed: 100 * found[pretrain_name(norm), seed]
                 for seed in seeds} for norm in PRETRAIN_NORMS}


def fine_tune(name: str, seed: int, output_dir: str,
              results: runner.ResultsFile, override: str = '',
              log=print, backbones_dir: Optional[str] = None,
              schedule_scale: float = 1.0) -> Dict:
  """Trains and evaluates one (row, seed) unless recorded; returns its row.

  `override` (the pilot's) is passed as `--params_override`, after the row's;
  the pretrained backbones are read from `backbones_dir`
  (`stored_backbone`); a pilot's `schedule_scale` multiplies the row's.

  Returns:
    The recorded row, or None when another process is training it.

  Raises:
    ValueError: for a pretrained row without `backbones_dir`.
    RuntimeError: if its stored backbone is not there, or the run fails.
  """
  with _take_run(output_dir, name, seed, results) as taken:
    if taken == 'done':
      return results.get(row=name, seed=seed)
    if taken == 'elsewhere':
      log(f'{name}, seed {seed}: running in another process; skipped.')
      return None
    return _fine_tune(name, seed, output_dir, results, override, log,
                      backbones_dir, schedule_scale)


def _fine_tune(name, seed, output_dir, results, override, log,
               backbones_dir, schedule_scale) -> Dict:
  """`fine_tune`'s run, under its lock."""
  row = ROWS[name]
  run_dir = os.path.join(output_dir, f'{name}_s{seed}')
  overrides = row_overrides(name, common.get_exp_config(EXPERIMENT),
                            schedule_scale)
  if row.pretrained:
    if backbones_dir is None:
      raise ValueError(f'The {name} row fine-tunes a pretrained backbone: '
                       'give the folder of the stored backbones.')
    backbone = stored_backbone(backbones_dir, row.pretrained,
                               pretrain_seed(seed))
    # Recorded is not enough: a pretraining recorded before backbones were
    # stored, or stored in a folder not carried here, has none. (The child
    # run checks the same, in terms of its config, not of the study.)
    try:
      input_checks.check_init_checkpoint(backbone)
    except ValueError:
      raise RuntimeError(
          f'The {name} row (seed {seed}) fine-tunes the backbone {backbone}, '
          'which is not there: its pretraining is recorded, but its backbone '
          'was not stored or not carried here. Copy it here, or remove its '
          'row from the results file to pretrain it again.') from None
    overrides['task']['init_checkpoint'] = backbone
  os.makedirs(run_dir, exist_ok=True)
  row_yaml = os.path.join(run_dir, 'row.yaml')
  with open(row_yaml, 'w') as f:
    yaml.safe_dump(overrides, f)
  log(f'{name} ({row.description}), seed {seed}: logs in {run_dir}')
  result = runner.run_train(runner.train_command(
      EXPERIMENT, run_dir, cpu_replicas=2, seed=seed,
      config_files=[row_yaml], params_override=override), run_dir).check(
          f'The {name} run (seed {seed})')
  recorded = {'row': name, 'seed': seed,
              'steps': result.metrics['global_step'], 'wall_s': result.wall_s,
              **{k: result.metrics[k] for k in METRICS}}
  results.put(recorded)
  log(f'  box AP {100 * recorded["AP"]:.2f}, AP50 '
      f'{100 * recorded["AP50"]:.2f}, mask AP {100 * recorded["mask_AP"]:.2f}')
  return recorded


def run_study(names: Sequence[str], output_dir: str, results_dir: str,
              log=print) -> List[Dict]:
  """Pretrains (gated on parity), then fine-tunes the rows' missing seeds.

  A second process with the same arguments takes the runs this one has not
  (each runs under its lock); the rows returned leave out those it is
  training.

  Raises:
    RuntimeError: before the pilot has fixed the protocol, when the
      backbones are not at parity (nothing fine-tunes), or when a run fails.
  """
  if not PROTOCOL_FIXED:
    raise RuntimeError(
        'The pilot has not fixed the scenes and the pretraining yet '
        f'(best row box AP within {PILOT_BAND}, AP50 at most {MAX_AP50}): '
        'no counted run before it is.')
  unknown = sorted(set(names) - set(ROWS))
  if unknown:
    raise ValueError(f'Unknown rows {unknown}; choose from {list(ROWS)}.')
  results = runner.ResultsFile(
      os.path.join(results_dir, runner.RESULTS_FILE), KEY_FIELDS,
      {'experiment': EXPERIMENT, 'pretrain_experiment': PRETRAIN_EXPERIMENT})
  backbones_dir = os.path.join(results_dir, BACKBONES_FOLDER)
  if any(ROWS[n].pretrained for n in names):
    passed, message = parity(pretrain(output_dir, results, backbones_dir,
                                      log=log))
    log(message)
    if not passed:
      raise RuntimeError(message)
  seeds = sorted({s for n in names for s in ROWS[n].seeds})
  rows = [fine_tune(n, s, output_dir, results, log=log,
                    backbones_dir=backbones_dir)
          for s in seeds for n in names if s in ROWS[n].seeds]
  return [r for r in rows if r is not None]


PILOT_ROWS = ('gn', 'bn_frozen')


def run_pilot(name: str, output_dir: str, results_dir: str,
              pretrain_override: str = '', override: str = '',
              pretrained_from: Optional[str] = None,
              schedule_scale: float = 1.0, log=print) -> List[Dict]:
  """One pilot setting: both norms pretrained and `PILOT_ROWS` at seed 0.

  Counts for no claim: its runs and results file go under `pilot/<name>` of
  `output_dir` and `results_dir`. Parity over seed 0 is printed, not gated.

  Args:
    name: The setting's folder name.
    output_dir: Run folders go under `<output_dir>/pilot/<name>`.
    results_dir: Its results file under `<results_dir>/pilot/<name>`.
    pretrain_override: `--params_override` of the pretraining runs.
    override: `--params_override` of the fine-tuning runs.
    pretrained_from: Another pilot whose seed-0 backbones to fine-tune
      instead of pretraining (its `pretrain_override` then applies).
    schedule_scale: The fine-tuning trains this times the epochs.
    log: Progress goes here.

  Returns:
    The fine-tuning rows, `PILOT_ROWS` in order, less any that another
    process on the same folders is training.

  Raises:
    ValueError: for a name that is not a plain folder name, or a
      `pretrained_from` pilot without both backbones.
  """
  run_dir = runner.pilot_folder(output_dir, name)
  log(f'Pilot {name!r} (counts for no claim): pretraining override '
      f'{pretrain_override!r}, fine-tuning override {override!r}.')
  settings = {'experiment': EXPERIMENT, 'override': override,
              'pretrain_experiment': PRETRAIN_EXPERIMENT,
              'pretrain_override': pretrain_override}
  if pretrained_from:  # Only when set: earlier pilots' files stay valid.
    settings['pretrained_from'] = pretrained_from
  if schedule_scale != 1:
    settings['schedule_scale'] = schedule_scale
  results = runner.ResultsFile(
      os.path.join(runner.pilot_folder(results_dir, name), runner.RESULTS_FILE),
      KEY_FIELDS, settings)
  # A pilot's backbones stay in its run folder: they are not committed.
  if pretrained_from:
    backbones_dir = os.path.join(
        runner.pilot_folder(output_dir, pretrained_from), BACKBONES_FOLDER)
    accuracies = backbone_accuracies(
        runner.read_rows(runner.pilot_folder(results_dir, pretrained_from)),
        (0,))
  else:
    backbones_dir = os.path.join(run_dir, BACKBONES_FOLDER)
    accuracies = pretrain(run_dir, results, backbones_dir, (0,),
                          pretrain_override, log)
  log(' / '.join(f'{norm} {acc[0]:.2f}%' for norm, acc in accuracies.items())
      + ' top-1 at seed 0 (the gate needs seeds '
      f'{PRETRAIN_SEEDS} within {PARITY} point).')
  rows = [fine_tune(row, 0, run_dir, results, override, log, backbones_dir,
                    schedule_scale) for row in PILOT_ROWS]
  return [r for r in rows if r is not None]


def main(_) -> None:
  """Runs the rows (unless --report_only); the exit status is the claims."""
  if FLAGS.pilot:
    for row in run_pilot(FLAGS.pilot, FLAGS.output_dir, FLAGS.results_dir,
                         FLAGS.pilot_pretrain_override, FLAGS.pilot_override,
                         FLAGS.pilot_pretrained_from,
                         FLAGS.pilot_schedule_scale):
      print(f'Pilot {FLAGS.pilot!r}, {row["row"]}: box AP '
            f'{100 * row["AP"]:.1f}, AP50 {100 * row["AP50"]:.1f}, mask AP '
            f'{100 * row["mask_AP"]:.1f} (band {PILOT_BAND}, AP50 at most '
            f'{MAX_AP50}).')
    return
  if not FLAGS.report_only:
    try:
      run_study(FLAGS.rows, FLAGS.output_dir, FLAGS.results_dir)
    except (RuntimeError, ValueError) as e:
      sys.exit(str(e))
  results = claims(runner.read_rows(FLAGS.results_dir))
  print(stats.format_claims(results))
  if not all(c.held for c in results):
    sys.exit('Not every claim holds (see above).')


FLAGS = flags.FLAGS

if __name__ == '__main__':
  flags.DEFINE_string('results_dir',
                      'official/projects/group_norm/docs/maskrcnn_fashion',
                      'The results file (resume state) and the report.')
  flags.DEFINE_boolean('report_only', False, 'Run nothing; report what is '
                       'recorded.')
  flags.DEFINE_list('rows', list(ROWS), f'Rows to run, of {list(ROWS)}.')
  flags.DEFINE_string('output_dir', 'runs/maskrcnn_fashion', 'One run folder '
                      'per pretraining and (row, seed) goes here.')
  flags.DEFINE_string('pilot', None, 'Run the difficulty pilot under this '
                      f'name instead: pretraining and {PILOT_ROWS} at seed 0.')
  flags.DEFINE_string('pilot_pretrain_override', '', 'The pilot pretraining\'s '
                      '--params_override (e.g. trainer.train_steps=...).')
  flags.DEFINE_string('pilot_override', '', 'The pilot fine-tuning\'s '
                      '--params_override.')
  flags.DEFINE_string('pilot_pretrained_from', None, 'Fine-tune this earlier '
                      'pilot\'s backbones instead of pretraining.')
  flags.DEFINE_float('pilot_schedule_scale', 1.0, 'The pilot fine-tunes this '
                     'times the experiment\'s epochs.')
  app.run(main)
