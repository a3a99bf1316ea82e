r"""Mask R-CNN on synthetic shapes at one image per replica: the paper's rows.

  python -m official.projects.group_norm.studies.maskrcnn_shapes \
      --rows=gn_pretrained,bn_frozen --seeds=0,1 \
      --output_dir=runs/maskrcnn_shapes \
      --results_dir=official/projects/group_norm/docs/maskrcnn_shapes
  # then the same with --rows=bn_frozen_gn_heads,sync_bn --seeds=0; the
  # default --rows=group_norm,batch_norm are the from-scratch rows.

Each (row, seed) is one run of the project's training script in its own
process, the same schedule for every row:

  python -m official.projects.group_norm.train --experiment=maskrcnn_gn_shapes \
      --mode=train_and_eval --cpu_replicas=2 --seed=SEED \
      --model_dir=OUTPUT_DIR/<row>_s<seed> [--config_file=<row's YAML>] \
      [--config_file=<init.yaml: the pretrained backbone>]

(3000 steps at global batch 2 on 2 CPU replicas, COCO box and mask AP on the
200 validation images at steps 1000, 2000 and 3000). The rows (`ROWS`) are
the paper's Table 5 at our scale: GN and BN trained from scratch in every
part; and, from a backbone pretrained on the shapes classification set
(`resnet_gn_shapes_pretrain`, this study's "ImageNet"), GN everywhere, BN*
(frozen BN backbone, no norm in the FPN and heads), BN* with GN in the FPN and
heads, and SyncBN everywhere. A pretrained row needs its backbone: before any
fine-tuning, the study pretrains each one the missing runs need
(`OUTPUT_DIR/pretrain_<norm>`, seed 0, one backbone per norm for all seeds)
unless its checkpoint is there, records its validation accuracy, and refuses
to fine-tune from a backbone below `--min_pretrain_accuracy` (a weak BN
backbone would flatter GN).

Every finished run is recorded in `results_dir/results.json`, which is also
the resume state: a (row, seed) recorded there (say, in the committed file of
a fresh clone) is not run again, nor is one whose run folder holds a finished
evaluation. The study prints a progress line per run and a markdown table of
every recorded row (this command's and earlier ones'), also written to
`results_dir/table.md`.

Exit status, the claim as measured: the GN-from-scratch row must reach
`--min_box_ap` / `--min_mask_ap` and beat BN from scratch on both; the
pretrained GN row's mean box AP and mean mask AP over the seeds must be at
least BN*'s. The claims are checked on every recorded row; one whose rows
are not recorded is not checked.
"""

import dataclasses
import os
import sys
from typing import Dict, List, Optional, Sequence

from absl import app
from absl import flags
import tensorflow as tf
import yaml

from official.modeling import hyperparams
from official.projects.group_norm import registry_imports  # noqa: F401 (registers the experiments)
from official.projects.group_norm import runner
from official.projects.group_norm.configs import common

EXPERIMENT = 'maskrcnn_gn_shapes'
PRETRAIN_EXPERIMENT = 'resnet_gn_shapes_pretrain'
_CONFIGS = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'configs',
                        'experiments')
METRICS = ('AP', 'AP50', 'AP75', 'mask_AP', 'mask_AP50', 'mask_AP75')
KEY_FIELDS = ('row', 'seed')


@dataclasses.dataclass(frozen=True)
class Row:
  """One row of the table: a Mask R-CNN configuration.

  Attributes:
    config_file: A YAML over `maskrcnn_gn_shapes` (None: the experiment).
    pretrained: The norm of the pretrained backbone it starts from, or None
      to train from scratch.
    description: The table's words for it.
  """
  config_file: Optional[str]
  pretrained: Optional[str]
  description: str


ROWS = {
    'group_norm': Row(None, None, 'GN from scratch, every part'),
    'batch_norm': Row(os.path.join(_CONFIGS, 'maskrcnn_gn_shapes_bn.yaml'),
                      None, 'BN from scratch, every part (RPN too)'),
    'gn_pretrained': Row(None, 'group_norm',
                         'GN-pretrained backbone, GN FPN and heads'),
    'bn_frozen': Row(os.path.join(_CONFIGS,
                                  'maskrcnn_gn_shapes_frozen_bn.yaml'),
                     'batch_norm', 'BN*: frozen BN-pretrained backbone, no '
                     'norm in FPN and heads'),
    'bn_frozen_gn_heads': Row(
        os.path.join(_CONFIGS, 'maskrcnn_gn_shapes_frozen_bn_gn_heads.yaml'),
        'batch_norm', 'BN* backbone, GN FPN and heads'),
    'sync_bn': Row(os.path.join(_CONFIGS, 'maskrcnn_gn_shapes_sync_bn.yaml'),
                   'batch_norm', 'BN-pretrained backbone, SyncBN in it, FPN '
                   'and heads'),
}


def _row(name: str) -> Row:
  if name not in ROWS:
    raise ValueError(f'Unknown row {name!r}; choose from {list(ROWS)}.')
  return ROWS[name]


def train_command(row: str, run_dir: str, seed: int = 0,
                  init_checkpoint: Optional[str] = None,
                  params_override: str = '') -> List[str]:
  """The train.py command line of one (row, seed) run.

  Args:
    row: A name of `ROWS`.
    run_dir: The run's folder.
    seed: The run's seed.
    init_checkpoint: The pretrained backbone (a model_dir or checkpoint);
      required by pretrained rows, written to `run_dir/init.yaml`.
    params_override: Extra overrides, applied last.
  """
  spec = _row(row)
  config_files = [spec.config_file] if spec.config_file else []
  if spec.pretrained:
    if not init_checkpoint:
      raise ValueError(f'Row {row!r} starts from a pretrained backbone; '
                       'give its init_checkpoint.')
    os.makedirs(run_dir, exist_ok=True)
    init_yaml = os.path.join(run_dir, 'init.yaml')
    with open(init_yaml, 'w') as f:
      yaml.safe_dump({'task': {'init_checkpoint': init_checkpoint,
                               'init_checkpoint_modules': 'backbone'}}, f)
    config_files.append(init_yaml)
  return runner.train_command(EXPERIMENT, run_dir, cpu_replicas=2, seed=seed,
                              config_files=config_files,
                              params_override=params_override)


def pretrain_command(norm: str, run_dir: str) -> List[str]:
  """The train.py command line that pretrains a backbone with `norm`."""
  return runner.train_command(
      PRETRAIN_EXPERIMENT, run_dir, cpu_replicas=2, seed=0,
      params_override=f'task.model.backbone.resnet_gn.norm={norm}')


def _fine_tune_row(name: str, seed: int, metrics: Dict, wall_s) -> Dict:
  row = {'row': name, 'seed': seed, 'steps': metrics['global_step'],
         'wall_s': wall_s}
  row.update({k: metrics[k] for k in METRICS})
  return row


def run_row(name: str, seed: int, output_dir: str, train_steps: int,
            init_checkpoint: Optional[str] = None,
            params_override: str = '') -> Dict:
  """Trains and evaluates one (row, seed) unless its run finished.

  Raises:
    RuntimeError: if the run fails or ends before `train_steps`.
  """
  run_dir = os.path.join(output_dir, f'{name}_s{seed}')
  metrics = runner.read_eval_metrics(run_dir)
  if metrics is not None and metrics['global_step'] >= train_steps:
    return _fine_tune_row(name, seed, metrics, None)  # Time unknown.
  what = f'The {name} run (seed {seed})'
  result = runner.run_train(
      train_command(name, run_dir, seed, init_checkpoint, params_override),
      run_dir).check(what)
  if result.metrics['global_step'] < train_steps:
    raise RuntimeError(f'{what} stopped at step '
                       f'{result.metrics["global_step"]} of {train_steps}.')
  return _fine_tune_row(name, seed, result.metrics, result.wall_s)


def pretrain(norm: str, output_dir: str, results: runner.ResultsFile,
             min_accuracy: float, log=print) -> str:
  """The pretrained backbone of `norm`: its run folder, trained if needed.

  Raises:
    RuntimeError: if pretraining fails or stays below `min_accuracy`.
  """
  run_dir = os.path.join(output_dir, f'pretrain_{norm}')
  name = f'pretrain_{norm}'
  if tf.train.latest_checkpoint(run_dir) is None or (
      runner.read_eval_metrics(run_dir) is None):
    log(f'    pretraining the {norm} backbone ({PRETRAIN_EXPERIMENT}), logs '
        f'in {run_dir}')
    result = runner.run_train(pretrain_command(norm, run_dir),
                              run_dir).check(f'Pretraining {norm}')
    results.put({'row': name, 'seed': 0,
                 'accuracy': result.metrics['accuracy'],
                 'steps': result.metrics['global_step'],
                 'wall_s': result.wall_s})
  metrics = runner.read_eval_metrics(run_dir)
  if results.get(row=name, seed=0) is None:  # Run earlier, not recorded.
    results.put({'row': name, 'seed': 0, 'accuracy': metrics['accuracy'],
                 'steps': metrics['global_step'], 'wall_s': None})
  if metrics['accuracy'] < min_accuracy:
    raise RuntimeError(
        f'The {norm} backbone reached validation accuracy '
        f'{metrics["accuracy"]:.3f} < --min_pretrain_accuracy={min_accuracy}'
        f' in {run_dir}; fine-tuning from it would not be a fair baseline.')
  log(f'    {norm} backbone: validation accuracy {metrics["accuracy"]:.3f}')
  return run_dir


def _mean(rows: Sequence[Dict], key: str) -> float:
  return sum(r[key] for r in rows) / len(rows)


def format_table(rows: Sequence[Dict]) -> str:
  """Markdown: per row, mean (min-max over seeds) AP in percent."""
  lines = ['| row | backbone, FPN and heads | seeds | box AP | mask AP | '
           'AP50 | mask AP50 |', '|' + ' --- |' * 7]
  by_row: Dict[str, List[Dict]] = {}
  for row in rows:
    if row['row'] in ROWS:
      by_row.setdefault(row['row'], []).append(row)
  for name, runs in by_row.items():
    def cell(key, runs=runs):
      values = [100 * r[key] for r in runs]
      text = f'{sum(values) / len(values):.1f}'
      if len(values) > 1:
        text += f' ({min(values):.1f}-{max(values):.1f})'
      return text
    lines.append(f'| {name} | {ROWS[name].description} | {len(runs)} | '
                 f'{cell("AP")} | {cell("mask_AP")} | {cell("AP50")} | '
                 f'{cell("mask_AP50")} |')
  return '\n'.join(lines)


def check(rows: Sequence[Dict], min_box_ap: float,
          min_mask_ap: float) -> List[str]:
  """The benchmark's failures (empty if every checked claim holds).

  GN from scratch: at least the bounds, and above BN from scratch (both
  box and mask AP). Pretrained GN: mean box and mask AP over its seeds at
  least BN*'s. A claim is checked when its rows are present.
  """
  by_row: Dict[str, List[Dict]] = {}
  for row in rows:
    by_row.setdefault(row['row'], []).append(row)
  failures = []
  gn, bn = by_row.get('group_norm'), by_row.get('batch_norm')
  if gn:
    if _mean(gn, 'AP') < min_box_ap:
      failures.append(f'GN box AP {_mean(gn, "AP"):.3f} < {min_box_ap}')
    if _mean(gn, 'mask_AP') < min_mask_ap:
      failures.append(f'GN mask AP {_mean(gn, "mask_AP"):.3f} < '
                      f'{min_mask_ap}')
    if bn:
      for key in ('AP', 'mask_AP'):
        if _mean(gn, key) <= _mean(bn, key):
          failures.append(f'GN {key} {_mean(gn, key):.3f} <= BN '
                          f'{_mean(bn, key):.3f}')
  gn_pre, bn_frozen = by_row.get('gn_pretrained'), by_row.get('bn_frozen')
  if gn_pre and bn_frozen:
    for key in ('AP', 'mask_AP'):
      if _mean(gn_pre, key) < _mean(bn_frozen, key):
        failures.append(f'pretrained GN mean {key} {_mean(gn_pre, key):.3f} '
                        f'< BN* {_mean(bn_frozen, key):.3f}')
  if not gn and not (gn_pre and bn_frozen):
    failures.append('no claim checked: run group_norm, or gn_pretrained '
                    'and bn_frozen')
  return failures


def run_study(rows: Sequence[str], seeds: Sequence[int], output_dir: str,
              results_dir: str, params_override: str = '',
              min_pretrain_accuracy: float = 0.0, log=print) -> List[Dict]:
  """Runs the (row, seed) pairs the results file lacks; returns their rows.

  Raises:
    ValueError: for an unknown row or a results file made with other
      settings.
    RuntimeError: for a failed run or a weak pretrained backbone (the
      finished runs stay recorded).
  """
  for name in rows:
    _row(name)
  params = common.get_exp_config(EXPERIMENT)
  if params_override:
    params = hyperparams.override_params_dict(params, params_override,
                                              is_strict=True)
  train_steps = params.trainer.train_steps
  results = runner.ResultsFile(
      os.path.join(results_dir, runner.RESULTS_FILE), KEY_FIELDS,
      {'experiment': EXPERIMENT, 'params_override': params_override})
  todo = [(name, seed) for seed in seeds for name in rows]
  # Every backbone a missing run needs is pretrained and checked before any
  # fine-tuning starts: a weak one stops the study before it costs hours.
  backbones: Dict[str, str] = {}
  for name, seed in todo:
    norm = ROWS[name].pretrained
    if norm and norm not in backbones and results.get(row=name,
                                                      seed=seed) is None:
      backbones[norm] = pretrain(norm, output_dir, results,
                                 min_pretrain_accuracy, log)
  for i, (name, seed) in enumerate(todo, 1):
    row = results.get(row=name, seed=seed)
    if row is not None:
      log(f'[{i}/{len(todo)}] {name}, seed {seed}: recorded in '
          f'{results.path}')
    else:
      log(f'[{i}/{len(todo)}] {name}, seed {seed}: {train_steps} steps, logs '
          f'in {os.path.join(output_dir, f"{name}_s{seed}")}')
      row = run_row(name, seed, output_dir, train_steps,
                    backbones.get(ROWS[name].pretrained), params_override)
      results.put(row)
    wall = f' in {row["wall_s"]:.0f} s' if row.get('wall_s') else ''
    log(f'    box AP {100 * row["AP"]:.1f}, mask AP '
        f'{100 * row["mask_AP"]:.1f}{wall}')
  return [results.get(row=name, seed=seed) for name, seed in todo]


def recorded_rows(results_dir: str) -> List[Dict]:
  """Every fine-tuning run recorded in `results_dir`, in `ROWS` order."""
  rows = [r for r in runner.read_rows(results_dir) if r['row'] in ROWS]
  return sorted(rows, key=lambda r: (list(ROWS).index(r['row']), r['seed']))


def main(_) -> None:
  """Runs the study from the flags; its exit status is the claim."""
  results_dir = runner.results_dir(FLAGS.results_dir, FLAGS.output_dir)
  run_study(FLAGS.rows, [int(s) for s in FLAGS.seeds], FLAGS.output_dir,
            results_dir, FLAGS.params_override, FLAGS.min_pretrain_accuracy)
  rows = recorded_rows(results_dir)  # Earlier commands' rows too.
  table = format_table(rows)
  with open(os.path.join(results_dir, 'table.md'), 'w') as f:
    f.write(table + '\n')
  print(table, flush=True)
  failures = check(rows, FLAGS.min_box_ap, FLAGS.min_mask_ap)
  if failures:
    sys.exit('Benchmark failed: ' + '; '.join(failures))
  print('Benchmark passed.', flush=True)


FLAGS = flags.FLAGS

if __name__ == '__main__':
  flags.DEFINE_string('output_dir', None, 'One run folder per (row, seed) '
                      'and per pretrained backbone goes here.')
  flags.DEFINE_string(
      'results_dir', None, 'Where results.json (also the resume state) goes. '
      'Defaults to --output_dir.')
  flags.DEFINE_list('rows', ['group_norm', 'batch_norm'],
                    f'Which of {list(ROWS)} to run.')
  flags.DEFINE_list('seeds', ['0'], 'Seeds of the fine-tuning runs.')
  flags.DEFINE_float('min_box_ap', 0.6, 'GN-from-scratch box AP must reach '
                     'this.')
  flags.DEFINE_float('min_mask_ap', 0.6, 'GN-from-scratch mask AP must reach '
                     'this.')
  flags.DEFINE_float(
      'min_pretrain_accuracy', 0.6, 'A pretrained backbone must reach this '
      'validation accuracy on the shapes classification set before any row '
      'fine-tunes from it.')
  flags.DEFINE_string('params_override', '', 'Extra overrides for every '
                      'fine-tuning run.')
  flags.mark_flags_as_required(['output_dir'])
  app.run(main)
