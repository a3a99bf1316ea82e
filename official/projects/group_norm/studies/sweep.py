r"""The batch-size study: validation error against images per replica (Fig. 1).

  python -m official.projects.group_norm.studies.sweep \
      --experiment=resnet_gn_colour_digits --lines=batch_norm,group_norm \
      --per_replica_batch_sizes=32,16,8,4,2 --seeds=0,1,2 --cpu_replicas=2 \
      --output_dir=runs/sweep_colour_digits \
      --results_dir=official/projects/group_norm/docs/sweep_colour_digits \
      --check_claims

Every (line, images per replica, seed) cell runs through the study engine
(`engine.run_cells`: one train.py process per cell, the paper's protocol at
small scale, the results file as resume state). This module is the study's
report over every recorded cell: `results.csv`, the table and `sweep.png`
(mean error with min-max bars over seeds, one line per line), the
group-count ablation beside the paper's Table 3 (`ablation.md`,
`ablation.png`) when it ran, and, for `resnet_gn_colour_digits`, the paper's
findings as `claims`, which `--check_claims` turns into the exit status. The
Fashion-MNIST study (`studies/fashion_mnist.py`) reuses the report and has
claims of its own. Each run's own folder is `output_dir/runs/<cell>`.
"""

import os
import sys
from typing import Dict, List, Optional, Sequence, Tuple

from absl import app
from absl import flags

from official.projects.group_norm import runner
from official.projects.group_norm.configs import common
from official.projects.group_norm.modeling import norms as norms_lib
from official.projects.group_norm.studies import engine

# The experiment whose cells `claims` judges; others (pilots) get the report.
EXPERIMENT = 'resnet_gn_colour_digits'

# The paper's Table 3 (ResNet-50 on ImageNet, 32 images per GPU): validation
# error (%) by the number of groups G, and by channels per group.
PAPER_GROUPS = {64: 24.6, 32: 24.1, 16: 24.6, 8: 24.4, 4: 24.6, 2: 24.7,
                1: 25.3}
PAPER_GROUP_SIZES = {64: 24.4, 32: 24.5, 16: 24.2, 8: 24.3, 4: 24.8, 2: 25.6,
                     1: 28.4}
PAPER_NARROWEST_WIDTH = 64  # ResNet-50's narrowest norm (stem, res2).


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
    match = engine.LINE_PATTERN.match(row['line'])
    if match['kind']:
      kind, number = match['kind'], int(match['number'])
    elif row['line'] == 'group_norm' and default_groups:
      kind, number = 'G', default_groups
    else:
      continue
    table[kind].setdefault(number, []).append(100 * row['val_error'])
  return table


def paper_counterpart(number: int, narrowest_width: int) -> int:
  """The paper's G (or channels per group) at the same share of the width.

  Our widths are the paper's times narrowest_width / 64, so k groups (or k
  channels per group) here split each layer as k x 64 / narrowest_width do
  there: at a quarter width, G = 8 here is the paper's G = 32. One group is
  layer norm and one channel per group instance norm at any width, so 1
  meets the paper's 1.
  """
  if number == 1:
    return 1
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
    lines += [f'| {title} | error % | seeds | vs best | paper\'s {title} | '
              'paper error % | paper vs best |', '|' + ' --- |' * 7]
    for k in sorted(ours, reverse=True):
      theirs = matched[k]
      paper_cells = (f'{paper_counterpart(k, narrowest_width)} | {theirs:.1f} '
                     f'| {theirs - paper_best:+.1f}' if theirs is not None
                     else f'{paper_counterpart(k, narrowest_width)} | - | -')
      lines.append(f'| {k} | {ours[k]:.2f} | {len(table[kind][k])} | '
                   f'{ours[k] - best:+.2f} | {paper_cells} |')
    lines.append('')
  return '\n'.join(lines).rstrip()


def group_spread(table, narrowest_width: int) -> Optional[Tuple[float, float]]:
  """(ours, the paper's) spread of mean error over 2 or more groups.

  The paper's finding (Table 3): GN is insensitive to G, within 0.6 point
  from 2 to 64 groups; one group (LN) stands apart. The paper's spread is
  taken over the settings matched to ours (`paper_counterpart`).

  Returns:
    None with fewer than two such settings of ours.
  """
  ours = {k: sum(v) / len(v) for k, v in table['G'].items() if k >= 2}
  if len(ours) < 2:
    return None
  theirs = [PAPER_GROUPS[paper_counterpart(k, narrowest_width)] for k in ours
            if paper_counterpart(k, narrowest_width) in PAPER_GROUPS]
  return (max(ours.values()) - min(ours.values()),
          max(theirs) - min(theirs) if theirs else float('nan'))


def plot_ablation(table, path: str, title: str) -> None:
  """Error against groups and against channels per group (Table 3)."""
  import matplotlib  # noqa: PLC0415
  matplotlib.use('Agg')
  from matplotlib import pyplot as plt  # noqa: PLC0415
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


def sweep(experiment: str, lines: Sequence[str],
          per_replica_batch_sizes: Sequence[int], seeds: Sequence[int],
          cpu_replicas: int, output_dir: str, params_override: str = '',
          base_learning_rate: Optional[float] = None,
          results_dir: Optional[str] = None, log=print,
          schedule_scale: float = 1.0) -> List[Dict]:
  """Runs the cells the results file lacks, then writes the report.

  Args:
    experiment: A registered experiment with a `resnet_gn` backbone.
    lines: Lines to compare (`engine.line_settings`).
    per_replica_batch_sizes: Images per replica.
    seeds: Seeds of weights and data order.
    cpu_replicas: MirroredStrategy replicas (the same for every cell).
    output_dir: Where each cell's run folder goes (`runs/<cell>`).
    params_override: Extra overrides for every cell.
    base_learning_rate: See `engine.cell_overrides`.
    results_dir: Where `results.json` (the resume state) and the report go.
      Defaults to `output_dir`.
    log: Prints a progress line.
    schedule_scale: See `engine.cell_overrides`.

  Returns:
    The result rows of the requested cells, in cell order.
  """
  results_dir = runner.results_dir(results_dir, output_dir)
  rows, results = engine.run_cells(
      experiment, lines, per_replica_batch_sizes, seeds, cpu_replicas,
      output_dir, results_dir, params_override, base_learning_rate,
      schedule_scale, log)
  write_report(results_dir, experiment, results.rows, cpu_replicas, log=log)
  if results.rows and experiment == EXPERIMENT:
    log('The paper\'s findings at this scale:\n' +
        format_claims(claims(engine.summarize(results.rows))))
  return rows


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


def write_report(results_dir: str, experiment: str, rows: List[Dict],
                 cpu_replicas: int, log=print) -> None:
  """The tables and plots of every recorded row (all runs of the file).

  Each invocation may add other lines, batches or seeds; the report always
  covers everything the results file holds. Lines at several batches go to
  `results.csv`, the batch table and `sweep.png`; group-count lines
  (`-G<k>`, `-C<k>`) and plain GN at their batch go to the ablation table
  (`ablation.md`) and `ablation.png`.
  """
  title = f'{experiment}, {cpu_replicas} replicas'
  rows = sorted(rows, key=engine.row_order)
  engine.write_csv(results_dir, rows)
  batch_rows = [r for r in rows if not engine.is_ablation(r['line'])]
  table = engine.summarize(batch_rows)
  batch_sizes = sorted({r['per_replica_batch'] for r in batch_rows},
                       reverse=True)
  log('Validation error (%), mean (min-max over seeds):\n' +
      engine.format_table(table, batch_sizes))
  written = ['results.json', 'results.csv']
  if table:
    engine.plot(table, batch_sizes, os.path.join(results_dir, 'sweep.png'),
                title)
    written.append('sweep.png')
  if write_ablation(results_dir, experiment, rows, title, log):
    written += ['ablation.md', 'ablation.png']
  log(f'Wrote {", ".join(written)} in {results_dir}.')


def experiment_ablation(experiment: str, rows: List[Dict]):
  """The group-count lines of an experiment's rows, as `ablation_table`.

  Returns:
    (table, narrowest width, images per replica), plain GN at that batch
    counted as the experiment's own groups; None without group-count rows.
  """
  ablation_rows = [r for r in rows if engine.is_ablation(r['line'])]
  if not ablation_rows:
    return None
  backbone = common.get_exp_config(experiment).task.model.backbone.get()
  batch = ablation_rows[0]['per_replica_batch']
  gn_rows = [r for r in rows if r['line'] == 'group_norm'
             and r['per_replica_batch'] == batch]
  return (ablation_table(ablation_rows + gn_rows, backbone.groups),
          int(64 * backbone.depth_multiplier), batch)


def write_ablation(results_dir: str, experiment: str, rows: List[Dict],
                   title: str, log=print) -> bool:
  """`ablation.md` and `ablation.png` of the group-count lines, if any ran.

  Group-count lines (`-G<k>`, `-C<k>`) and plain GN at their batch (as the
  experiment's own groups) go beside the paper's Table 3.

  Returns:
    Whether there were group-count rows (and so the files were written).
  """
  found = experiment_ablation(experiment, rows)
  if found is None:
    return False
  ablation, narrowest_width, batch = found
  markdown = format_ablation(ablation, narrowest_width, batch)
  with open(os.path.join(results_dir, 'ablation.md'), 'w') as f:
    f.write(markdown + '\n')
  plot_ablation(ablation, os.path.join(results_dir, 'ablation.png'),
                f'{title}, {batch} images per replica')
  log(markdown)
  return True


def _ints(values: Optional[Sequence[str]]) -> List[int]:
  return [int(v) for v in values or []]


def main(_) -> None:
  """Runs the sweep from the flags; exits non-zero if a cell failed."""
  rows = sweep(FLAGS.experiment, FLAGS.lines,
               _ints(FLAGS.per_replica_batch_sizes), _ints(FLAGS.seeds),
               FLAGS.cpu_replicas, FLAGS.output_dir, FLAGS.params_override,
               FLAGS.base_learning_rate, FLAGS.results_dir,
               schedule_scale=FLAGS.schedule_scale)
  failed = [r for r in rows if r['status'] != 'ok']
  if failed:
    sys.exit(f'{len(failed)} cell(s) failed; see console.log and train.log '
             f'in their folders under {FLAGS.output_dir}/runs/.')
  if FLAGS.check_claims:
    recorded = runner.read_rows(
        runner.results_dir(FLAGS.results_dir, FLAGS.output_dir))
    unmet = [claim for claim, held in claims(engine.summarize(recorded))
             if held is not True]
    if unmet:
      sys.exit('Claims missed or not measured: ' + '; '.join(unmet) + '.')


FLAGS = flags.FLAGS

if __name__ == '__main__':
  flags.DEFINE_string('experiment', EXPERIMENT,
                      'A registered experiment with a resnet_gn backbone.')
  flags.DEFINE_list('lines', ['batch_norm', 'group_norm'],
                    f'Lines to compare: names of {norms_lib.NORM_NAMES}, '
                    'optionally with -G<groups> or -C<channels per group>, '
                    'or +ws (weight standardization).')
  flags.DEFINE_list('per_replica_batch_sizes', ['32', '16', '8', '4', '2'],
                    'Images per replica.')
  flags.DEFINE_list('seeds', ['0'], 'Seeds (weights and data order).')
  flags.DEFINE_integer('cpu_replicas', 2, 'MirroredStrategy replicas, one '
                       'per logical CPU device (the same for every cell).')
  flags.DEFINE_float(
      'base_learning_rate', None,
      'Initial learning rate = this x global batch / 256 in every cell (the '
      'paper: 0.1). Default: the experiment\'s own, scaled from its batch.')
  flags.DEFINE_float('schedule_scale', 1.0, 'Train this times the '
                     'experiment\'s epochs (a pilot\'s convergence check).')
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
