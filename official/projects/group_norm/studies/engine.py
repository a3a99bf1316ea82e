"""The study engine: cells of line x per-replica batch x seed, run and recorded.

Each cell is one run of the project's training script (`train.py`,
`--mode=train_and_eval`) in its own process, on MirroredStrategy over the same
CPU replicas, following the paper's protocol at small scale:
- the same number of epochs for every batch size: the experiment's schedule
  (steps, learning-rate boundaries, warm-up, loop/eval intervals) is rescaled
  by reference_batch / global_batch;
- the learning rate scaled linearly with the global batch (from a base rate
  per 256 images, or from the experiment's own);
- BatchNorm statistics per replica (`batch_norm`, not `sync_batch_norm`);
- the seed seeds weights and data order.

A line is a norm name, or one with settings (`line_settings`): `-G<k>` /
`-C<k>` for the group-count ablation, `+ws` for GN+WS, `+c2d` for a video
backbone without temporal kernels. The experiment's backbone may be
`resnet_gn` (a batch counts images) or `resnet_3d_gn` (clips).

`run_cells` runs largest batch first, one progress line each with an ETA,
and records each cell's row in `results_dir/results.json` (a
`runner.ResultsFile`), which is also the resume state: rerunning runs only
the cells without an 'ok' row; failed cells run again; studies of other lines
may share the file. A results file made with other settings is refused. What
a study reports and claims is the study's own module.
"""

import csv
import dataclasses
import math
import os
import re
import shutil
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import yaml

from official.projects.group_norm import registry_imports  # noqa: F401 (registers the experiments)
from official.projects.group_norm import runner
from official.projects.group_norm.configs import common
from official.projects.group_norm.modeling import norms as norms_lib

KEY_FIELDS = ('line', 'per_replica_batch', 'seed')
RESULT_FIELDS = ('line', 'per_replica_batch', 'global_batch', 'seed',
                 'val_error', 'steps', 'wall_s', 'status')

LINE_PATTERN = re.compile(
    r'^(?P<norm>[a-z_]+)(?:-(?P<kind>[GC])(?P<number>[0-9]+))?(?P<ws>\+ws)?'
    r'(?P<c2d>\+c2d)?$')
# The backbones a study can switch, and what their batches count.
UNITS = {'resnet_gn': 'images', 'resnet_3d_gn': 'clips'}


def line_settings(line: str) -> Dict:
  """The backbone settings (`resnet_gn` config fields) of a study line.

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
        f'Malformed study line {line!r}: expected a norm name, optionally '
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


def is_ablation(line: str) -> bool:
  """Whether `line` sets the groups (`-G<k>`) or their size (`-C<k>`)."""
  match = LINE_PATTERN.match(line)
  return bool(match and match['kind'])


def _c2d_settings(backbone) -> Dict:
  """`resnet_3d_gn` settings with every temporal kernel 1 (C2D)."""
  from official.projects.group_norm.modeling import resnet_3d_gn  # noqa: PLC0415
  kernels = ([b.temporal_kernel_sizes for b in backbone.block_specs] or
             resnet_3d_gn.I3D_TEMPORAL_KERNEL_SIZES[backbone.model_id])
  strides = ([b.temporal_strides for b in backbone.block_specs] or
             [1] * len(kernels))
  return {'stem_conv_temporal_kernel_size': 1, 'block_specs': [
      {'temporal_kernel_sizes': [1] * len(k), 'temporal_strides': t}
      for k, t in zip(kernels, strides)]}


@dataclasses.dataclass(frozen=True)
class Cell:
  """One run of a study: a line at a per-replica batch with a seed."""
  line: str
  per_replica_batch: int
  seed: int

  @property
  def name(self) -> str:
    """The cell's folder name, e.g. group_norm_b2_s0."""
    return f'{self.line}_b{self.per_replica_batch}_s{self.seed}'


def scaled_schedule(trainer, epochs_scale: float,
                    batch_scale: float = 1.0) -> Dict:
  """The trainer diff that trains `epochs_scale` times the epochs.

  Args:
    trainer: The experiment's `TrainerConfig`, with a stepwise learning rate.
    epochs_scale: Times the epochs: the training steps, learning-rate
      boundaries and checkpoint/evaluation intervals grow by it (warm-up
      and loop lengths do not).
    batch_scale: The new global batch over the experiment's: every step
      count shrinks by it (the same epochs).

  Returns:
    {'train_steps', 'checkpoint_interval', 'validation_interval',
    'optimizer_config': {'learning_rate': {'stepwise': {'boundaries'}}}}.

  Raises:
    ValueError: for a learning rate that is not stepwise.
  """
  lr = trainer.optimizer_config.learning_rate
  if lr.type != 'stepwise':
    raise ValueError(f'A study rescales stepwise learning rates; this '
                     f'experiment\'s is {lr.type!r}.')

  def steps(n):
    return max(1, round(n * epochs_scale / batch_scale))

  return {
      **{key: steps(getattr(trainer, key)) for key in (
          'train_steps', 'checkpoint_interval', 'validation_interval')},
      'optimizer_config': {'learning_rate': {'stepwise': {
          'boundaries': [steps(b) for b in lr.stepwise.boundaries]}}},
  }


def cell_overrides(params, cell: Cell, replicas: int,
                   base_learning_rate: Optional[float] = None,
                   schedule_scale: float = 1.0) -> Dict:
  """The config diff that turns `params` (the experiment) into `cell`.

  Args:
    params: the experiment's config (its batch and schedule the reference).
    cell: line, per-replica batch and seed.
    replicas: replicas in sync.
    base_learning_rate: the initial learning rate is base_learning_rate x
      global_batch / 256 (the paper's linear rule, base 0.1 there); None
      scales the experiment's own learning rate from its own batch.
    schedule_scale: Trains this times the experiment's epochs: its training
      steps, learning-rate boundaries and checkpoint/evaluation intervals
      are scaled (warm-up and loop lengths are not). A pilot's "twice as
      long" is 2.

  Returns:
    A nested dict for `params.override` / a YAML `--config_file`.

  Raises:
    ValueError: for a learning-rate schedule this engine cannot rescale, a
      backbone without a norm setting, or a malformed line.
  """
  settings = line_settings(cell.line)
  backbone_type = params.task.model.backbone.type
  if backbone_type not in UNITS:
    raise ValueError(f'A study switches the norm of a {tuple(UNITS)} '
                     f'backbone; this experiment\'s is {backbone_type!r}.')
  if settings.pop('c2d', False):
    if backbone_type != 'resnet_3d_gn':
      raise ValueError(f'{cell.line!r}: +c2d needs a resnet_3d_gn backbone.')
    settings.update(_c2d_settings(params.task.model.backbone.get()))
  if settings.get('weight_standardization') and backbone_type != 'resnet_gn':
    raise ValueError(f'{cell.line!r}: +ws needs a resnet_gn backbone.')
  global_batch = cell.per_replica_batch * replicas
  scale = global_batch / params.task.train_data.global_batch_size

  def steps(n):  # Same number of epochs: n steps at the reference batch.
    return max(1, round(n / scale))

  trainer = params.trainer
  optimizer = trainer.optimizer_config
  schedule = scaled_schedule(trainer, schedule_scale, scale)
  values = optimizer.learning_rate.stepwise.values
  first = (base_learning_rate * global_batch / 256 if base_learning_rate
           else values[0] * scale)
  schedule['optimizer_config']['learning_rate']['stepwise']['values'] = [
      first * v / values[0] for v in values]
  overrides = {
      'task': {
          'model': {'backbone': {backbone_type: settings}},
          'train_data': {'global_batch_size': global_batch, 'seed': cell.seed},
      },
      'trainer': {
          **schedule,
          'steps_per_loop': steps(trainer.steps_per_loop),
          'summary_interval': steps(trainer.summary_interval),
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
    cell: line, per-replica batch and seed.
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
  row = {'line': cell.line, 'per_replica_batch': cell.per_replica_batch,
         'global_batch': cell.per_replica_batch * replicas, 'seed': cell.seed,
         'val_error': math.nan, 'steps': 0, 'wall_s': result.wall_s}
  if result.ok:
    row.update(val_error=1.0 - result.metrics['accuracy'],
               steps=result.metrics['global_step'], status='ok',
               **error_curves(result.history))
  else:
    row['status'] = f'failed ({result.last_error()})'
  return row


def error_curves(history: Sequence[Dict]) -> Dict[str, List[List[float]]]:
  """{'train_curve', 'val_curve': [[step, error], ...]} of a run's history.

  The training error is 1 - the accuracy over each training loop's batches
  (in training mode, as the paper's Figure 4 measures it); the validation
  error that of each evaluation. Kinds without an accuracy are left out.
  """
  curves = {}
  for kind, name in (('train', 'train_curve'), ('eval', 'val_curve')):
    points = [[e['step'], round(1.0 - e['accuracy'], 5)] for e in history
              if e['kind'] == kind and 'accuracy' in e]
    if points:
      curves[name] = points
  return curves


def run_cells(experiment: str, lines: Sequence[str],
              per_replica_batch_sizes: Sequence[int], seeds: Sequence[int],
              cpu_replicas: int, output_dir: str, results_dir: str,
              params_override: str = '',
              base_learning_rate: Optional[float] = None,
              schedule_scale: float = 1.0,
              log: Callable[[str], None] = print
              ) -> Tuple[List[Dict], runner.ResultsFile]:
  """Runs the cells the results file lacks, each under its lock.

  Two processes may run the same cells side by side: each skips a cell the
  other is training or has recorded (`runner.exclusive`).

  Args:
    experiment: A registered experiment with a backbone of `UNITS`.
    lines: Lines to compare (`line_settings`).
    per_replica_batch_sizes: Images (or clips) per replica.
    seeds: Seeds of weights and data order.
    cpu_replicas: MirroredStrategy replicas (the same for every cell).
    output_dir: Where each cell's run folder goes (`runs/<cell>`).
    results_dir: Where `results.json` (the resume state) and `results.csv`
      go.
    params_override: Extra overrides for every cell.
    base_learning_rate: See `cell_overrides`.
    schedule_scale: See `cell_overrides`; recorded in the results file's
      settings when not 1.
    log: Prints a progress line.

  Returns:
    (the rows of the requested cells, in cell order; the results file, whose
    `rows` hold every recorded cell).

  Raises:
    ValueError: bad arguments, or a results file made with other settings
      (experiment, replicas, overrides, learning rate, schedule).
  """
  if not lines or not per_replica_batch_sizes or not seeds:
    raise ValueError('Need at least one line, batch size and seed.')
  if min(per_replica_batch_sizes) < 1 or cpu_replicas < 1:
    raise ValueError(f'Batch sizes {list(per_replica_batch_sizes)} and '
                     f'--cpu_replicas={cpu_replicas} must be >= 1.')
  params = common.get_exp_config(experiment)
  # Seed-major: an interrupted study has whole seeds, not half the batches.
  cells = [Cell(n, b, s) for s in seeds
           for b in sorted(per_replica_batch_sizes, reverse=True)
           for n in lines]
  # Every cell's config up front: a bad one fails now, not mid-study.
  overrides = {cell: cell_overrides(params, cell, cpu_replicas,
                                    base_learning_rate, schedule_scale)
               for cell in cells}
  unit = UNITS[params.task.model.backbone.type]  # Checked by the overrides.
  settings = {'experiment': experiment, 'cpu_replicas': cpu_replicas,
              'params_override': params_override,
              'base_learning_rate': base_learning_rate}
  if schedule_scale != 1.0:
    settings['schedule_scale'] = schedule_scale
  results = runner.ResultsFile(
      os.path.join(results_dir, runner.RESULTS_FILE), KEY_FIELDS, settings)

  def requested_rows():
    found = (results.get(**dataclasses.asdict(c)) for c in cells)
    return [row for row in found if row is not None]

  def done(cell):
    row = results.get(**dataclasses.asdict(cell))
    return row is not None and row['status'] == 'ok'

  todo = [c for c in cells if not done(c)]
  log(f'Cells with results in {results.path}: {len(cells)} cells, '
      f'{len(cells) - len(todo)} already done, {len(todo)} to run on '
      f'{cpu_replicas} CPU replicas.')
  start, ran = time.monotonic(), 0
  for i, cell in enumerate(todo, 1):
    run_dir = os.path.join(output_dir, 'runs', cell.name)
    what = (f'[{i}/{len(todo)}] {cell.line} at {cell.per_replica_batch} '
            f'{unit}/replica, seed {cell.seed}')
    # A second study on the same results file takes the cells this one
    # has not: a cell runs only under its lock, and only if still missing.
    with runner.take_run(output_dir, cell.name, results,
                         lambda: done(cell)) as taken:
      if taken != 'mine':
        log(f'{what}: ' + ('running in another process' if taken ==
                           'elsewhere' else 'done by another process') +
            '; skipped.')
        continue
      if os.path.exists(run_dir):  # Interrupted or failed earlier: anew.
        shutil.rmtree(run_dir)
      row = run_cell(experiment, cell, overrides[cell], cpu_replicas,
                     run_dir, params_override)
      results.put(row)
    ran += 1
    write_csv(results_dir, sorted(results.rows, key=row_order))
    elapsed = time.monotonic() - start
    eta = elapsed / ran * (len(todo) - i)  # Cells skipped took no time.
    outcome = (f'validation error {100 * row["val_error"]:.2f}% after '
               f'{row["steps"]} steps' if row['status'] == 'ok'
               else row['status'])
    log(f'{what}: {outcome} in {row["wall_s"]:.0f} s | elapsed '
        f'{_minutes(elapsed)}, ETA {_minutes(eta)}')
  return requested_rows(), results


def row_order(row: Dict):
  """Rows by line, largest batch first, then seed."""
  return (row['line'], -row['per_replica_batch'], row['seed'])


def write_csv(results_dir: str, rows: List[Dict]) -> None:
  """`results.csv` beside `results.json`: one line per cell."""
  with open(os.path.join(results_dir, 'results.csv'), 'w', newline='') as f:
    writer = csv.DictWriter(f, RESULT_FIELDS, extrasaction='ignore')
    writer.writeheader()
    writer.writerows(rows)


def summarize(rows: Sequence[Dict]) -> Dict[str, Dict[int, List[float]]]:
  """{line: {per-replica batch: [validation error % per seed]}}, ok rows."""
  table: Dict[str, Dict[int, List[float]]] = {}
  for row in rows:
    if row['status'] == 'ok':
      table.setdefault(row['line'], {}).setdefault(
          row['per_replica_batch'], []).append(100 * row['val_error'])
  return table


def errors_by_seed(rows: Sequence[Dict]) -> Dict[Tuple[str, int],
                                                  Dict[int, float]]:
  """{(line, per-replica batch): {seed: validation error %}}, ok rows."""
  table: Dict[Tuple[str, int], Dict[int, float]] = {}
  for row in rows:
    if row['status'] == 'ok':
      table.setdefault((row['line'], row['per_replica_batch']), {})[
          row['seed']] = 100 * row['val_error']
  return table


def format_table(table, batch_sizes: Sequence[int],
                 unit: str = 'images') -> str:
  """Markdown: mean (min-max) validation error % per line and batch."""
  header = (f'| line \\ {unit} per replica | ' +
            ' | '.join(str(b) for b in batch_sizes) + ' |')
  lines = [header, '|' + ' --- |' * (len(batch_sizes) + 1)]
  for line, by_batch in table.items():
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
    lines.append(f'| {line} | ' + ' | '.join(cells) + ' |')
  return '\n'.join(lines)


def plot(table, batch_sizes: Sequence[int], path: str, title: str,
         unit: str = 'images', bars: str = 'range') -> None:
  """Validation error vs batch per replica, one line per line (Fig. 1).

  Args:
    table: `summarize(...)`.
    batch_sizes: The x ticks.
    path: The PNG.
    title: Its title.
    unit: What a batch counts ('images', 'clips'): the axis says so.
    bars: 'range' (min-max over seeds) or 'std' (standard deviation).
  """
  import matplotlib  # noqa: PLC0415
  matplotlib.use('Agg')
  from matplotlib import pyplot as plt  # noqa: PLC0415
  fig, ax = plt.subplots(figsize=(5.5, 4))
  for line, by_batch in table.items():
    xs = [b for b in batch_sizes if by_batch.get(b)]
    means = [float(np.mean(by_batch[b])) for b in xs]
    if bars == 'std':
      low = high = [float(np.std(by_batch[b])) for b in xs]
    else:
      low = [m - min(by_batch[b]) for m, b in zip(means, xs)]
      high = [max(by_batch[b]) - m for m, b in zip(means, xs)]
    ax.errorbar(xs, means, yerr=[low, high], marker='o', capsize=3,
                label=line)
  ax.set_xscale('log', base=2)
  ax.set_xticks(list(batch_sizes))
  ax.set_xticklabels([str(b) for b in batch_sizes])
  ax.invert_xaxis()  # As the paper: large batches left, small right.
  ax.set_xlabel(f'{unit} per replica')
  ax.set_ylabel('validation error (%)')
  ax.set_title(title)
  ax.grid(alpha=0.3)
  ax.legend()
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)


def _minutes(seconds: float) -> str:
  return f'{seconds / 60:.1f} min'
