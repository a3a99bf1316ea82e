r"""Validation error against images per replica, for each norm (paper, Fig. 1).

  python -m official.projects.group_norm.studies.sweep \
      --experiment=resnet_gn_colour_digits --norms=batch_norm,group_norm \
      --per_replica_batch_sizes=32,16,8,4,2 --seeds=0,1,2 --cpu_replicas=2 \
      --output_dir=runs/sweep_colour_digits \
      --results_dir=official/projects/group_norm/docs/sweep_colour_digits \
      --check_claims

Each cell (line, per-replica batch, seed) is one run of the project's
training script (`train.py`, `--mode=train_and_eval`) in its own process, on
MirroredStrategy over the same `--cpu_replicas` logical CPUs, following the
paper's protocol at small scale:
- the same number of epochs for every batch size: the experiment's schedule
  (steps, learning-rate boundaries, warm-up, loop/eval intervals) is rescaled
  by reference_batch / global_batch;
- the learning rate scaled linearly with the global batch (from
  `--base_learning_rate` per 256 images, or from the experiment's own);
- BatchNorm statistics per replica (`batch_norm`, not `sync_batch_norm`);
- `--seeds` seeds weights and data order.

A line is a norm name, or one with settings (`line_settings`): `-G<k>` /
`-C<k>` for the group-count ablation, `+ws` for GN+WS, `+c2d` for a video
backbone without temporal kernels. The experiment's backbone may be
`resnet_gn` (images) or `resnet_3d_gn` (clips per replica).

Cells run largest batch first, one progress line each with an ETA. After
every cell the sweep records its row in `results_dir/results.json`, which is
also the resume state: rerunning the same command (on this machine or on a
fresh clone holding the committed file) runs only the cells without an 'ok'
row there; failed cells run again; adding seeds or lines adds cells, and
sweeps of other lines may share the file (side by side too). A results file
made with other settings (experiment, replicas, overrides, learning rate) is
refused. At the end the sweep reports every recorded cell: `results.csv`,
the table and `sweep.png` (mean error with min-max bars over seeds, one line
per line), the group-count ablation beside the paper's Table 3
(`ablation.md`, `ablation.png`) when it ran, and the paper's findings as
`claims`, which `--check_claims` turns into the exit status. Each run's own
folder is `output_dir/runs/<cell>`.
"""

import csv
import dataclasses
import json
import math
import os
import re
import shutil
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

from absl import app
from absl import flags
import yaml

from official.projects.group_norm import registry_imports  # noqa: F401 (registers the experiments)
from official.projects.group_norm import runner
from official.projects.group_norm.configs import common
from official.projects.group_norm.modeling import norms as norms_lib

KEY_FIELDS = ('norm', 'per_replica_batch', 'seed')
RESULT_FIELDS = ('norm', 'per_replica_batch', 'global_batch', 'seed',
                 'val_error', 'steps', 'wall_s', 'status')


LINE_PATTERN = re.compile(
    r'^(?P<norm>[a-z_]+)(?:-(?P<kind>[GC])(?P<number>[0-9]+))?(?P<ws>\+ws)?'
    r'(?P<c2d>\+c2d)?$')
BACKBONES = ('resnet_gn', 'resnet_3d_gn')  # The backbones a sweep can switch.


def line_settings(line: str) -> Dict:
  """The backbone settings (`resnet_gn` config fields) of a sweep line.

  A line is a norm-factory name, optionally followed by `-G<k>` (k groups) or
  `-C<k>` (k channels per group; the group-count ablation), by `+ws`
  (weight-standardized convolutions, `resnet_gn`) and by `+c2d` (every
  temporal kernel 1, `resnet_3d_gn`: the video control, which `cell_overrides`
  applies): 'group_norm', 'batch_norm', 'group_norm-G4', 'group_norm-C2',
  'group_norm+ws', 'group_norm+c2d'.

  Raises:
    ValueError: for a malformed line or an unknown norm.
  """
  match = LINE_PATTERN.match(line)
  if not match:
    raise ValueError(
        f'Malformed sweep line {line!r}: expected a norm name, optionally '
        'with -G<groups> or -C<channels per group>, then optionally +ws '
        "and/or +c2d (e.g. 'group_norm-G4+ws').")
  norm = match['norm']
  norms_lib.get_norm(norm)  # Raises, listing the known names.
  settings = {'norm': norm}
  if match['kind']:
    if norm != 'group_norm':
      raise ValueError(f'{line!r}: -G/-C apply to group_norm only.')
    number = int(match['number'])
    settings.update({'groups': number, 'group_size': None}
                    if match['kind'] == 'G' else
                    {'groups': None, 'group_size': number})
  if match['ws']:
    settings['weight_standardization'] = True
  if match['c2d']:
    settings['c2d'] = True
  return settings


def _c2d_settings(backbone) -> Dict:
  """`resnet_3d_gn` settings with every temporal kernel 1 (C2D)."""
  from official.projects.group_norm.modeling import resnet_3d_gn  # pylint: disable=g-import-not-at-top
  kernels = ([b.temporal_kernel_sizes for b in backbone.block_specs] or
             resnet_3d_gn.I3D_TEMPORAL_KERNEL_SIZES[backbone.model_id])
  strides = ([b.temporal_strides for b in backbone.block_specs] or
             [1] * len(kernels))
  return {'stem_conv_temporal_kernel_size': 1, 'block_specs': [
      {'temporal_kernel_sizes': [1] * len(k), 'temporal_strides': t}
      for k, t in zip(kernels, strides)]}


@dataclasses.dataclass(frozen=True)
class Cell:
  """One run of the sweep: a line at a per-replica batch with a seed.

  `norm` is the line (`line_settings`): a norm name, possibly with groups or
  weight standardization.
  """
  norm: str
  per_replica_batch: int
  seed: int

  @property
  def name(self) -> str:
    """The cell's folder name, e.g. group_norm_b2_s0."""
    return f'{self.norm}_b{self.per_replica_batch}_s{self.seed}'


def cell_overrides(params, cell: Cell, replicas: int,
                   base_learning_rate: Optional[float] = None) -> Dict:
  """The config diff that turns `params` (the experiment) into `cell`.

  Args:
    params: the experiment's config (its batch and schedule the reference).
    cell: line, per-replica batch and seed.
    replicas: replicas in sync.
    base_learning_rate: the initial learning rate is base_learning_rate x
      global_batch / 256 (the paper's linear rule, base 0.1 there); None
      scales the experiment's own learning rate from its own batch.

  Returns:
    A nested dict for `params.override` / a YAML `--config_file`.

  Raises:
    ValueError: for a learning-rate schedule this sweep cannot rescale, a
      backbone without a norm setting, or a malformed line.
  """
  settings = line_settings(cell.norm)
  backbone_type = params.task.model.backbone.type
  if backbone_type not in BACKBONES:
    raise ValueError(f'The sweep switches the norm of a {BACKBONES} '
                     f'backbone; this experiment\'s is {backbone_type!r}.')
  if settings.pop('c2d', False):
    if backbone_type != 'resnet_3d_gn':
      raise ValueError(f'{cell.norm!r}: +c2d needs a resnet_3d_gn backbone.')
    settings.update(_c2d_settings(params.task.model.backbone.get()))
  if settings.get('weight_standardization') and backbone_type != 'resnet_gn':
    raise ValueError(f'{cell.norm!r}: +ws needs a resnet_gn backbone.')
  global_batch = cell.per_replica_batch * replicas
  scale = global_batch / params.task.train_data.global_batch_size

  def steps(n):  # Same number of epochs: n steps at the reference batch.
    return max(1, round(n / scale))

  trainer = params.trainer
  optimizer = trainer.optimizer_config
  lr = optimizer.learning_rate
  if lr.type != 'stepwise':
    raise ValueError(f'The sweep rescales stepwise learning rates; this '
                     f'experiment\'s is {lr.type!r}.')
  values = lr.stepwise.values
  first = (base_learning_rate * global_batch / 256 if base_learning_rate
           else values[0] * scale)
  learning_rate = {'stepwise': {
      'boundaries': [steps(b) for b in lr.stepwise.boundaries],
      'values': [first * v / values[0] for v in values]}}
  overrides = {
      'task': {
          'model': {'backbone': {backbone_type: settings}},
          'train_data': {'global_batch_size': global_batch, 'seed': cell.seed},
      },
      'trainer': {
          'train_steps': steps(trainer.train_steps),
          'steps_per_loop': steps(trainer.steps_per_loop),
          'summary_interval': steps(trainer.summary_interval),
          'checkpoint_interval': steps(trainer.checkpoint_interval),
          'validation_interval': steps(trainer.validation_interval),
          'optimizer_config': {'learning_rate': learning_rate},
      },
  }
  if optimizer.warmup.type == 'linear':
    overrides['trainer']['optimizer_config']['warmup'] = {'linear': {
        'warmup_steps': steps(optimizer.warmup.linear.warmup_steps)}}
  return overrides


def run_cell(experiment: str, cell: Cell, overrides: Dict, replicas: int,
             run_dir: str, params_override: str = '') -> Dict:
  """Trains and evaluates one cell in a subprocess; returns its result row.

  Args:
    experiment: the registered experiment.
    cell: norm, per-replica batch and seed.
    overrides: `cell_overrides(...)` of this cell.
    replicas: replicas in sync.
    run_dir: a new folder for the run.
    params_override: extra overrides for train.py, applied last.
  """
  os.makedirs(run_dir)
  cell_yaml = os.path.join(run_dir, 'cell.yaml')
  with open(cell_yaml, 'w') as f:
    yaml.safe_dump(overrides, f)
  result = runner.run_train(runner.train_command(
      experiment, run_dir, cpu_replicas=replicas, seed=cell.seed,
      config_files=[cell_yaml], params_override=params_override), run_dir)
  row = {'norm': cell.norm, 'per_replica_batch': cell.per_replica_batch,
         'global_batch': cell.per_replica_batch * replicas, 'seed': cell.seed,
         'val_error': math.nan, 'steps': 0, 'wall_s': result.wall_s}
  if result.ok:
    row.update(val_error=1.0 - result.metrics['accuracy'],
               steps=result.metrics['global_step'], status='ok')
  else:
    row['status'] = f'failed ({result.last_error()})'
  return row


def write_csv(results_dir: str, rows: List[Dict]) -> None:
  """`results.csv` beside `results.json`: one line per cell."""
  with open(os.path.join(results_dir, 'results.csv'), 'w', newline='') as f:
    writer = csv.DictWriter(f, RESULT_FIELDS)
    writer.writeheader()
    writer.writerows(rows)


def summarize(rows: List[Dict]) -> Dict[str, Dict[int, List[float]]]:
  """{norm: {per-replica batch: [validation error % per seed]}}, ok rows."""
  table: Dict[str, Dict[int, List[float]]] = {}
  for row in rows:
    if row['status'] == 'ok':
      table.setdefault(row['norm'], {}).setdefault(
          row['per_replica_batch'], []).append(100 * row['val_error'])
  return table


def format_table(table, batch_sizes: Sequence[int]) -> str:
  """Markdown: mean (min-max) validation error % per norm and batch."""
  header = ('| norm \\ images per replica | ' +
            ' | '.join(str(b) for b in batch_sizes) + ' |')
  lines = [header, '|' + ' --- |' * (len(batch_sizes) + 1)]
  for norm, by_batch in table.items():
    cells = []
    for b in batch_sizes:
      errors = by_batch.get(b)
      if not errors:
        cells.append('-')
      elif len(errors) == 1:
        cells.append(f'{errors[0]:.1f}')
      else:
        cells.append(f'{sum(errors) / len(errors):.1f} '
                     f'({min(errors):.1f}-{max(errors):.1f})')
    lines.append(f'| {norm} | ' + ' | '.join(cells) + ' |')
  return '\n'.join(lines)


# The paper's Table 3 (ResNet-50 on ImageNet, 32 images per GPU): validation
# error (%) by the number of groups G, and by channels per group.
PAPER_GROUPS = {64: 24.6, 32: 24.1, 16: 24.6, 8: 24.4, 4: 24.6, 2: 24.7,
                1: 25.3}
PAPER_GROUP_SIZES = {64: 24.4, 32: 24.5, 16: 24.2, 8: 24.3, 4: 24.8, 2: 25.6,
                     1: 28.4}
PAPER_NARROWEST_WIDTH = 64  # ResNet-50's narrowest norm (stem, res2).


def _is_ablation(line: str) -> bool:
  match = LINE_PATTERN.match(line)
  return bool(match and match['kind'])


def _row_order(row: Dict):
  return (row['norm'], -row['per_replica_batch'], row['seed'])


def ablation_table(rows: List[Dict], default_groups: Optional[int]
                   ) -> Dict[str, Dict[int, List[float]]]:
  """{'G': {groups: [error %]}, 'C': {channels per group: [error %]}}.

  Args:
    rows: Result rows of group-count lines (`group_norm-G<k>`,
      `group_norm-C<k>`) and of plain `group_norm`, which counts as
      `default_groups` groups (the experiment's setting).
    default_groups: The experiment's `groups`.
  """
  table = {'G': {}, 'C': {}}
  for row in rows:
    if row['status'] != 'ok':
      continue
    match = LINE_PATTERN.match(row['norm'])
    if match['kind']:
      kind, number = match['kind'], int(match['number'])
    elif row['norm'] == 'group_norm' and default_groups:
      kind, number = 'G', default_groups
    else:
      continue
    table[kind].setdefault(number, []).append(100 * row['val_error'])
  return table


def paper_counterpart(number: int, narrowest_width: int) -> int:
  """The paper's G (or channels per group) at the same share of the width.

  Our widths are the paper's times narrowest_width / 64, so k groups (or k
  channels per group) here split each layer as k x 64 / narrowest_width do
  there: at a quarter width, G = 8 here is the paper's G = 32.
  """
  return number * PAPER_NARROWEST_WIDTH // narrowest_width


def format_ablation(table, narrowest_width: int, batch: int) -> str:
  """Markdown: our errors beside the paper's Table 3 at matched settings."""
  lines = [f'Group-count ablation at {batch} images per replica: validation '
           'error (%) (mean over seeds, if several), and its difference from '
           f'the best setting in each half. Our narrowest layer has '
           f'{narrowest_width} channels, ResNet-50\'s {PAPER_NARROWEST_WIDTH}: '
           'each of our settings sits beside the paper\'s at the same share '
           'of the width.', '']
  for kind, title, paper in (('G', 'groups G', PAPER_GROUPS),
                             ('C', 'channels per group', PAPER_GROUP_SIZES)):
    ours = {k: sum(v) / len(v) for k, v in table[kind].items()}
    if not ours:
      continue
    best = min(ours.values())
    matched = {k: paper.get(paper_counterpart(k, narrowest_width))
               for k in ours}
    paper_best = min(paper.values())
    lines += [f'| {title} | error % | vs best | paper\'s {title} | paper '
              'error % | paper vs best |', '|' + ' --- |' * 6]
    for k in sorted(ours, reverse=True):
      theirs = matched[k]
      paper_cells = (f'{paper_counterpart(k, narrowest_width)} | {theirs:.1f} '
                     f'| {theirs - paper_best:+.1f}' if theirs is not None
                     else f'{paper_counterpart(k, narrowest_width)} | - | -')
      lines.append(f'| {k} | {ours[k]:.2f} | {ours[k] - best:+.2f} | '
                   f'{paper_cells} |')
    lines.append('')
  return '\n'.join(lines).rstrip()


def plot_ablation(table, path: str, title: str) -> None:
  """Error against groups and against channels per group (Table 3)."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
  for ax, (kind, label) in zip(axes, (('G', 'groups G'),
                                      ('C', 'channels per group'))):
    ks = sorted(table[kind])
    if ks:
      means = [sum(table[kind][k]) / len(table[kind][k]) for k in ks]
      ax.plot(ks, means, marker='o')
      ax.set_xscale('log', base=2)
      ax.set_xticks(ks)
      ax.set_xticklabels([str(k) for k in ks])
    ax.set_xlabel(label)
    ax.grid(alpha=0.3)
  axes[0].set_ylabel('validation error (%)')
  fig.suptitle(title)
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)


def plot(table, batch_sizes: Sequence[int], path: str, title: str) -> None:
  """Validation error vs images per replica, one line per norm (Fig. 1)."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, ax = plt.subplots(figsize=(5.5, 4))
  for norm, by_batch in table.items():
    xs = [b for b in batch_sizes if by_batch.get(b)]
    means = [sum(by_batch[b]) / len(by_batch[b]) for b in xs]
    low = [m - min(by_batch[b]) for m, b in zip(means, xs)]
    high = [max(by_batch[b]) - m for m, b in zip(means, xs)]
    ax.errorbar(xs, means, yerr=[low, high], marker='o', capsize=3,
                label=norm)
  ax.set_xscale('log', base=2)
  ax.set_xticks(list(batch_sizes))
  ax.set_xticklabels([str(b) for b in batch_sizes])
  ax.invert_xaxis()  # As the paper: large batches left, small right.
  ax.set_xlabel('images per replica')
  ax.set_ylabel('validation error (%)')
  ax.set_title(title)
  ax.grid(alpha=0.3)
  ax.legend()
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)


def sweep(experiment: str, norms: Sequence[str],
          per_replica_batch_sizes: Sequence[int], seeds: Sequence[int],
          cpu_replicas: int, output_dir: str, params_override: str = '',
          base_learning_rate: Optional[float] = None,
          results_dir: Optional[str] = None, log=print,
          report_claims: bool = True) -> List[Dict]:
  """Runs the cells the results file lacks, then writes the table and plot.

  Args:
    experiment: A registered experiment with a `resnet_gn` or
      `resnet_3d_gn` backbone (images or clips per replica).
    norms: Lines to compare (`line_settings`: norm names, possibly with
      groups, +ws or +c2d).
    per_replica_batch_sizes: Images per replica.
    seeds: Seeds of weights and data order.
    cpu_replicas: MirroredStrategy replicas (the same for every cell).
    output_dir: Where each cell's run folder goes (`runs/<cell>`).
    params_override: Extra overrides for every cell.
    base_learning_rate: See `cell_overrides`.
    results_dir: Where `results.json` (the resume state), `results.csv` and
      `sweep.png` go. Defaults to `output_dir`.
    log: Prints a progress line.
    report_claims: Print the classification claims (`claims`) in the
      report; other studies check their own.

  Returns:
    The result rows of the requested cells, in cell order.

  Raises:
    ValueError: bad arguments, or a results file made with other settings
      (experiment, replicas, overrides, learning rate).
  """
  if not norms or not per_replica_batch_sizes or not seeds:
    raise ValueError('Need at least one norm, batch size and seed.')
  if min(per_replica_batch_sizes) < 1 or cpu_replicas < 1:
    raise ValueError(f'Batch sizes {list(per_replica_batch_sizes)} and '
                     f'--cpu_replicas={cpu_replicas} must be >= 1.')
  results_dir = results_dir or output_dir
  params = common.get_exp_config(experiment)
  # Seed-major: an interrupted sweep has whole seeds, not half the batches.
  cells = [Cell(n, b, s) for s in seeds
           for b in sorted(per_replica_batch_sizes, reverse=True)
           for n in norms]
  # Every cell's config up front: a bad one fails now, not mid-sweep.
  overrides = {cell: cell_overrides(params, cell, cpu_replicas,
                                    base_learning_rate) for cell in cells}
  results = runner.ResultsFile(
      os.path.join(results_dir, 'results.json'), KEY_FIELDS,
      {'experiment': experiment, 'cpu_replicas': cpu_replicas,
       'params_override': params_override,
       'base_learning_rate': base_learning_rate})

  def requested_rows():
    found = (results.get(**dataclasses.asdict(c)) for c in cells)
    return [row for row in found if row is not None]

  def done(cell):
    row = results.get(**dataclasses.asdict(cell))
    return row is not None and row['status'] == 'ok'

  todo = [c for c in cells if not done(c)]
  log(f'Sweep with results in {results.path}: {len(cells)} cells, '
      f'{len(cells) - len(todo)} already done, {len(todo)} to run on '
      f'{cpu_replicas} CPU replicas.')
  start = time.monotonic()
  for i, cell in enumerate(todo, 1):
    run_dir = os.path.join(output_dir, 'runs', cell.name)
    if os.path.exists(run_dir):  # Interrupted or failed earlier: start over.
      shutil.rmtree(run_dir)
    row = run_cell(experiment, cell, overrides[cell], cpu_replicas, run_dir,
                   params_override)
    results.put(row)
    write_csv(results_dir, requested_rows())
    elapsed = time.monotonic() - start
    eta = elapsed / i * (len(todo) - i)
    outcome = (f'validation error {100 * row["val_error"]:.2f}% after '
               f'{row["steps"]} steps' if row['status'] == 'ok'
               else row['status'])
    log(f'[{i}/{len(todo)}] {cell.norm} at {cell.per_replica_batch} '
        f'images/replica, seed {cell.seed}: {outcome} in {row["wall_s"]:.0f} '
        f's | elapsed {_minutes(elapsed)}, ETA {_minutes(eta)}')
  backbone = params.task.model.backbone.get()
  write_report(results_dir, results.rows, f'{experiment}, {cpu_replicas} '
               'replicas', narrowest_width=int(64 * backbone.depth_multiplier),
               default_groups=backbone.groups, log=log,
               report_claims=report_claims)
  return requested_rows()


FLAT_SPREAD = 1.5  # GN's per-batch mean errors lie within this (points).
NORMAL_BATCH_GAP = 1.5  # GN at most this worse than BN at 32 and 16.
SMALL_BATCH_GAP = 5.0  # BN at 2 at least this worse than GN.
LN_IN_FACTOR = 3.0  # LN and IN below this times GN's error, batch by batch.


def claims(table: Dict[str, Dict[int, List[float]]]
           ) -> List[Tuple[str, Optional[bool]]]:
  """The paper's findings as this study tests them: (claim, held).

  `held` is None where the table lacks the cells a claim needs. Targets:
  GN's mean error flat across 32..2 images per replica (spread at most
  FLAT_SPREAD points); GN within NORMAL_BATCH_GAP of BN at 32 and 16; BN at
  least SMALL_BATCH_GAP worse than GN at 2; layer and instance norm below
  LN_IN_FACTOR x GN's error at each batch where both ran.
  """
  def mean(norm, batch):
    errors = table.get(norm, {}).get(batch)
    return sum(errors) / len(errors) if errors else None

  gn = [mean('group_norm', b) for b in (32, 16, 8, 4, 2)]
  results = [(f'GN flat across 32..2 images per replica (spread <= '
              f'{FLAT_SPREAD})',
              None if None in gn else max(gn) - min(gn) <= FLAT_SPREAD)]
  for batch in (32, 16):
    g, b = mean('group_norm', batch), mean('batch_norm', batch)
    results.append((f'GN within {NORMAL_BATCH_GAP} points of BN at {batch}',
                    None if None in (g, b) else g <= b + NORMAL_BATCH_GAP))
  g, b = mean('group_norm', 2), mean('batch_norm', 2)
  results.append((f'BN at least {SMALL_BATCH_GAP} points worse than GN at 2',
                  None if None in (g, b) else b - g >= SMALL_BATCH_GAP))
  for norm in ('layer_norm', 'instance_norm'):
    batches = sorted(set(table.get(norm, {})) & set(table.get('group_norm',
                                                              {})))
    results.append((
        f'{norm} below {LN_IN_FACTOR}x GN\'s error at each batch it ran',
        all(mean(norm, b) < LN_IN_FACTOR * mean('group_norm', b)
            for b in batches) if batches else None))
  return results


def format_claims(results) -> str:
  """One line per claim: held, missed or not measured."""
  words = {True: 'held', False: 'MISSED', None: 'not measured'}
  return '\n'.join(f'- {claim}: {words[held]}' for claim, held in results)


def write_report(results_dir: str, rows: List[Dict], title: str,
                 narrowest_width: int, default_groups: Optional[int],
                 log=print, report_claims: bool = True) -> None:
  """The tables and plots of every recorded row (all runs of the file).

  Each invocation may add other lines, batches or seeds; the report always
  covers everything the results file holds. Lines at several batches go to
  `results.csv`, the batch table and `sweep.png`; group-count lines
  (`-G<k>`, `-C<k>`) and plain GN at their batch go to the ablation table
  (`ablation.md`) and `ablation.png`.
  """
  rows = sorted(rows, key=_row_order)
  write_csv(results_dir, rows)
  ablation_rows = [r for r in rows if _is_ablation(r['norm'])]
  batch_rows = [r for r in rows if not _is_ablation(r['norm'])]
  table = summarize(batch_rows)
  batch_sizes = sorted({r['per_replica_batch'] for r in batch_rows},
                       reverse=True)
  log('Validation error (%), mean (min-max over seeds):\n' +
      format_table(table, batch_sizes))
  if report_claims:
    log('The paper\'s findings at this scale:\n' +
        format_claims(claims(table)))
  written = ['results.json', 'results.csv']
  if table:
    plot(table, batch_sizes, os.path.join(results_dir, 'sweep.png'), title)
    written.append('sweep.png')
  if ablation_rows:
    batch = ablation_rows[0]['per_replica_batch']
    gn_rows = [r for r in batch_rows if r['norm'] == 'group_norm'
               and r['per_replica_batch'] == batch]
    ablation = ablation_table(ablation_rows + gn_rows, default_groups)
    markdown = format_ablation(ablation, narrowest_width, batch)
    with open(os.path.join(results_dir, 'ablation.md'), 'w') as f:
      f.write(markdown + '\n')
    plot_ablation(ablation, os.path.join(results_dir, 'ablation.png'),
                  f'{title}, {batch} images per replica')
    log(markdown)
    written += ['ablation.md', 'ablation.png']
  log(f'Wrote {", ".join(written)} in {results_dir}.')


def _minutes(seconds: float) -> str:
  return f'{seconds / 60:.1f} min'


def _ints(values: Optional[Sequence[str]]) -> List[int]:
  return [int(v) for v in values or []]


def main(_) -> None:
  """Runs the sweep from the flags; exits non-zero if a cell failed."""
  rows = sweep(FLAGS.experiment, FLAGS.norms,
               _ints(FLAGS.per_replica_batch_sizes), _ints(FLAGS.seeds),
               FLAGS.cpu_replicas, FLAGS.output_dir, FLAGS.params_override,
               FLAGS.base_learning_rate, FLAGS.results_dir)
  failed = [r for r in rows if r['status'] != 'ok']
  if failed:
    sys.exit(f'{len(failed)} cell(s) failed; see console.log and train.log '
             f'in their folders under {FLAGS.output_dir}/runs/.')
  if FLAGS.check_claims:
    with open(os.path.join(FLAGS.results_dir or FLAGS.output_dir,
                           'results.json')) as f:
      recorded = json.load(f)['rows']
    unmet = [claim for claim, held in claims(summarize(recorded))
             if held is not True]
    if unmet:
      sys.exit('Claims missed or not measured: ' + '; '.join(unmet) + '.')


FLAGS = flags.FLAGS

if __name__ == '__main__':
  flags.DEFINE_string('experiment', 'resnet_gn_colour_digits',
                      'A registered experiment with a resnet_gn or '
                      'resnet_3d_gn backbone.')
  flags.DEFINE_list('norms', ['batch_norm', 'group_norm'],
                    f'Lines to compare: names of {norms_lib.NORM_NAMES}, '
                    'optionally with -G<groups> or -C<channels per group>, '
                    '+ws (weight standardization) or +c2d (video control).')
  flags.DEFINE_list('per_replica_batch_sizes', ['32', '16', '8', '4', '2'],
                    'Images per replica.')
  flags.DEFINE_list('seeds', ['0'], 'Seeds (weights and data order).')
  flags.DEFINE_integer('cpu_replicas', 2, 'MirroredStrategy replicas, one '
                       'per logical CPU device (the same for every cell).')
  flags.DEFINE_float(
      'base_learning_rate', None,
      'Initial learning rate = this x global batch / 256 in every cell (the '
      'paper: 0.1). Default: the experiment\'s own, scaled from its batch.')
  flags.DEFINE_string('params_override', '', 'Extra overrides for every '
                      'cell, as for train.py.')
  flags.DEFINE_string('output_dir', None, 'Where the runs\' folders go.')
  flags.DEFINE_string(
      'results_dir', None, 'Where results.json (also the resume state), '
      'results.csv and sweep.png go. Defaults to --output_dir.')
  flags.DEFINE_bool(
      'check_claims', False, 'Exit non-zero unless every claim of `claims` '
      'holds over all recorded cells (the study\'s benchmark verdict).')
  flags.mark_flags_as_required(['output_dir'])
  app.run(main)
