r"""Validation error against images per replica, for each norm (paper, Fig. 1).

  python -m official.projects.group_norm.sweep --experiment=resnet_gn_digits \
      --norms=batch_norm,group_norm --per_replica_batch_sizes=32,16,8,4,2 \
      --seeds=0,1,2 --cpu_replicas=4 --output_dir=/tmp/gn_sweep

Each cell (norm, per-replica batch, seed) is one run of the project's training
script (`train.py`, `--mode=train_and_eval`) in its own process, on
MirroredStrategy over the same `--cpu_replicas` logical CPUs, following the
paper's protocol at small scale:
- the same number of epochs for every batch size: the experiment's schedule
  (steps, learning-rate boundaries, warm-up, loop/eval intervals) is rescaled
  by reference_batch / global_batch;
- the learning rate scaled linearly with the global batch (from
  `--base_learning_rate` per 256 images, or from the experiment's own);
- BatchNorm statistics per replica (`batch_norm`, not `sync_batch_norm`);
- `--seeds` seeds weights and data order.

Cells run largest batch first, one progress line each with an ETA. Finished
cells are kept (`output_dir/runs/<cell>/eval_metrics.json`): rerunning the
same command resumes, restarting only unfinished cells; adding seeds or norms
to the command adds cells. After every cell the sweep rewrites
`results.csv` / `results.json` (one row per cell), and at the end prints the
summary table and plots `sweep.png` (mean error with min-max bars over seeds,
one line per norm).
"""

import csv
import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

from absl import app
from absl import flags
import yaml

from official.projects.group_norm import registry_imports
from official.projects.group_norm import trainer as trainer_lib
from official.projects.group_norm.modeling import norms as norms_lib

SETTINGS_FILE = 'sweep_settings.json'
RESULT_FIELDS = ('norm', 'per_replica_batch', 'global_batch', 'seed',
                 'val_error', 'steps', 'wall_s', 'status')


@dataclasses.dataclass(frozen=True)
class Cell:
  norm: str
  per_replica_batch: int
  seed: int

  @property
  def name(self) -> str:
    return f'{self.norm}_b{self.per_replica_batch}_s{self.seed}'


def cell_overrides(params, cell: Cell, replicas: int,
                   base_learning_rate: Optional[float] = None) -> Dict:
  """The config diff that turns `params` (the experiment) into `cell`.

  Args:
    params: the experiment's config (its batch and schedule the reference).
    cell: norm, per-replica batch and seed.
    replicas: replicas in sync.
    base_learning_rate: the initial learning rate is base_learning_rate x
      global_batch / 256 (the paper's linear rule, base 0.1 there); None
      scales the experiment's own learning rate from its own batch.

  Returns:
    A nested dict for `params.override` / a YAML `--config_file`.

  Raises:
    ValueError: for a learning-rate schedule this sweep cannot rescale, a
      backbone without a norm setting, or an unknown norm.
  """
  norms_lib.get_norm(cell.norm)  # Raises, listing the known names.
  if params.task.model.backbone.type != 'resnet_gn':
    raise ValueError('The sweep switches task.model.backbone.resnet_gn.norm; '
                     f'this experiment\'s backbone is '
                     f'{params.task.model.backbone.type!r}.')
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
          'model': {'backbone': {'resnet_gn': {'norm': cell.norm}}},
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
  command = [sys.executable, '-m', 'official.projects.group_norm.train',
             f'--experiment={experiment}', '--mode=train_and_eval',
             f'--model_dir={run_dir}', f'--cpu_replicas={replicas}',
             f'--seed={cell.seed}', f'--config_file={cell_yaml}']
  if params_override:
    command.append(f'--params_override={params_override}')
  start = time.monotonic()
  with open(os.path.join(run_dir, 'train.log'), 'w') as log:
    returncode = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT)
  wall_s = time.monotonic() - start
  row = {'norm': cell.norm, 'per_replica_batch': cell.per_replica_batch,
         'global_batch': cell.per_replica_batch * replicas, 'seed': cell.seed,
         'val_error': math.nan, 'steps': 0, 'wall_s': round(wall_s, 1)}
  metrics_path = os.path.join(run_dir, trainer_lib.EVAL_METRICS_FILE)
  if returncode == 0 and os.path.exists(metrics_path):
    with open(metrics_path) as f:
      metrics = json.load(f)
    row.update(val_error=1.0 - metrics['accuracy'],
               steps=metrics['global_step'], status='ok')
  else:
    row['status'] = f'failed ({_last_error(run_dir)})'
  with open(os.path.join(run_dir, 'result.json'), 'w') as f:
    json.dump(row, f)
  return row


def _last_error(run_dir: str) -> str:
  """The last line of the cell's log that names an error, for the table."""
  with open(os.path.join(run_dir, 'train.log'), errors='replace') as f:
    lines = [l.strip() for l in f if 'Error' in l]
  return lines[-1][:200] if lines else 'see train.log'


def load_results(output_dir: str, cells: Sequence[Cell]) -> List[Dict]:
  """The finished cells' rows, in `cells` order."""
  rows = []
  for cell in cells:
    path = os.path.join(output_dir, 'runs', cell.name, 'result.json')
    if os.path.exists(path):
      with open(path) as f:
        rows.append(json.load(f))
  return rows


def write_results(output_dir: str, rows: List[Dict]) -> None:
  with open(os.path.join(output_dir, 'results.json'), 'w') as f:
    json.dump(rows, f, indent=1)
  with open(os.path.join(output_dir, 'results.csv'), 'w', newline='') as f:
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
          log=print) -> List[Dict]:
  """Runs the missing cells, then writes the table and the plot.

  Returns:
    The result rows of all requested cells.

  Raises:
    ValueError: bad arguments, or an output_dir holding a sweep made with
      other settings (experiment, replicas, overrides).
  """
  if not norms or not per_replica_batch_sizes or not seeds:
    raise ValueError('Need at least one norm, batch size and seed.')
  if min(per_replica_batch_sizes) < 1 or cpu_replicas < 1:
    raise ValueError(f'Batch sizes {list(per_replica_batch_sizes)} and '
                     f'--cpu_replicas={cpu_replicas} must be >= 1.')
  params = registry_imports.get_exp_config(experiment)
  # Seed-major: an interrupted sweep has whole seeds, not half the batches.
  cells = [Cell(n, b, s) for s in seeds
           for b in sorted(per_replica_batch_sizes, reverse=True)
           for n in norms]
  # Every cell's config up front: a bad one fails now, not mid-sweep.
  overrides = {cell: cell_overrides(params, cell, cpu_replicas,
                                    base_learning_rate) for cell in cells}
  _check_settings(output_dir, {'experiment': experiment,
                               'cpu_replicas': cpu_replicas,
                               'params_override': params_override,
                               'base_learning_rate': base_learning_rate})
  todo = [c for c in cells if not os.path.exists(
      os.path.join(output_dir, 'runs', c.name, 'result.json'))]
  log(f'Sweep in {output_dir}: {len(cells)} cells, {len(cells) - len(todo)} '
      f'already done, {len(todo)} to run on {cpu_replicas} CPU replicas.')
  start = time.monotonic()
  for i, cell in enumerate(todo, 1):
    run_dir = os.path.join(output_dir, 'runs', cell.name)
    if os.path.exists(run_dir):  # Interrupted earlier: start it over.
      shutil.rmtree(run_dir)
    row = run_cell(experiment, cell, overrides[cell], cpu_replicas, run_dir,
                   params_override)
    write_results(output_dir, load_results(output_dir, cells))
    elapsed = time.monotonic() - start
    eta = elapsed / i * (len(todo) - i)
    outcome = (f'validation error {100 * row["val_error"]:.2f}% after '
               f'{row["steps"]} steps' if row['status'] == 'ok'
               else row['status'])
    log(f'[{i}/{len(todo)}] {cell.norm} at {cell.per_replica_batch} '
        f'images/replica, seed {cell.seed}: {outcome} in {row["wall_s"]:.0f} '
        f's | elapsed {_minutes(elapsed)}, ETA {_minutes(eta)}')
  rows = load_results(output_dir, cells)
  write_results(output_dir, rows)
  table = summarize(rows)
  batch_sizes = sorted(per_replica_batch_sizes, reverse=True)
  log('Validation error (%), mean (min-max over seeds ' +
      ','.join(map(str, seeds)) + '):\n' + format_table(table, batch_sizes))
  if table:
    plot(table, batch_sizes, os.path.join(output_dir, 'sweep.png'),
         f'{experiment}, {cpu_replicas} replicas')
  log(f'Wrote {output_dir}/results.csv, results.json and sweep.png.')
  return rows


def _check_settings(output_dir: str, settings: Dict) -> None:
  """Records the sweep's settings; refuses to mix cells made with others."""
  os.makedirs(output_dir, exist_ok=True)
  path = os.path.join(output_dir, SETTINGS_FILE)
  if os.path.exists(path):
    with open(path) as f:
      recorded = json.load(f)
    if recorded != settings:
      raise ValueError(f'{output_dir} holds a sweep made with {recorded}; '
                       f'this one is {settings}. Use another --output_dir.')
  else:
    with open(path, 'w') as f:
      json.dump(settings, f, indent=1)


def _minutes(seconds: float) -> str:
  return f'{seconds / 60:.1f} min'


def _ints(values: Optional[Sequence[str]]) -> List[int]:
  return [int(v) for v in values or []]


def main(_) -> None:
  rows = sweep(FLAGS.experiment, FLAGS.norms,
               _ints(FLAGS.per_replica_batch_sizes), _ints(FLAGS.seeds),
               FLAGS.cpu_replicas, FLAGS.output_dir, FLAGS.params_override,
               FLAGS.base_learning_rate)
  failed = [r for r in rows if r['status'] != 'ok']
  if failed:
    sys.exit(f'{len(failed)} cell(s) failed; see their train.log under '
             f'{FLAGS.output_dir}/runs/.')


FLAGS = flags.FLAGS

if __name__ == '__main__':
  flags.DEFINE_string('experiment', 'resnet_gn_digits',
                      'A registered experiment with a resnet_gn backbone.')
  flags.DEFINE_list('norms', ['batch_norm', 'group_norm'],
                    f'Norms to compare, of {norms_lib.NORM_NAMES}.')
  flags.DEFINE_list('per_replica_batch_sizes', ['32', '16', '8', '4', '2'],
                    'Images per replica.')
  flags.DEFINE_list('seeds', ['0'], 'Seeds (weights and data order).')
  flags.DEFINE_integer('cpu_replicas', 4, 'MirroredStrategy replicas, one '
                       'per logical CPU device (the same for every cell).')
  flags.DEFINE_float(
      'base_learning_rate', None,
      'Initial learning rate = this x global batch / 256 in every cell (the '
      'paper: 0.1). Default: the experiment\'s own, scaled from its batch.')
  flags.DEFINE_string('params_override', '', 'Extra overrides for every '
                      'cell, as for train.py.')
  flags.DEFINE_string('output_dir', None, 'Where runs, table and plot go.')
  flags.mark_flags_as_required(['output_dir'])
  app.run(main)
