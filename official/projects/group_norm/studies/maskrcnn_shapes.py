r"""Mask R-CNN on synthetic shapes, GN against BN at one image per replica.

  python -m official.projects.group_norm.studies.maskrcnn_shapes \
      --output_dir=runs/maskrcnn_shapes \
      --results_dir=official/projects/group_norm/docs/maskrcnn_shapes

For each norm it runs the project's train script in its own process:

  python -m official.projects.group_norm.train --experiment=maskrcnn_gn_shapes \
      --mode=train_and_eval --cpu_replicas=2 --seed=0 \
      --model_dir=OUTPUT_DIR/<norm> [--config_file=<BN yaml>]

(3000 steps at global batch 2 on 2 CPU replicas, COCO box and mask AP on the
200 validation images at steps 1000, 2000 and 3000), records its row in
`results_dir/results.json` and prints a markdown table. The results file is
also the resume state: a norm with a row there (say, in the committed file of
a fresh clone) is not run again, nor is one whose run folder already holds a
finished evaluation.

Exits non-zero if GN's box or mask AP is below `--min_box_ap` /
`--min_mask_ap`, or if GN does not beat BN on both: the paper's claim at this
scale, as a benchmark anyone can rerun (about 15 minutes a norm on 2 cores).
"""

import os
import sys
from typing import Dict, List, Sequence

from absl import app
from absl import flags

from official.modeling import hyperparams
from official.projects.group_norm import registry_imports  # noqa: F401 (registers the experiments)
from official.projects.group_norm import runner
from official.projects.group_norm.configs import common

EXPERIMENT = 'maskrcnn_gn_shapes'
CONFIG_FILES = {
    'group_norm': None,
    'batch_norm': os.path.join(os.path.dirname(os.path.dirname(__file__)),
                               'configs', 'experiments',
                               'maskrcnn_gn_shapes_bn.yaml'),
}
METRICS = ('AP', 'AP50', 'AP75', 'mask_AP', 'mask_AP50', 'mask_AP75')


def train_command(norm: str, run_dir: str,
                  params_override: str = '') -> List[str]:
  """The train.py command line of one norm's run."""
  if norm not in CONFIG_FILES:
    raise ValueError(
        f'Unknown norm {norm!r}; choose from {list(CONFIG_FILES)}.')
  config_files = [CONFIG_FILES[norm]] if CONFIG_FILES[norm] else []
  return runner.train_command(EXPERIMENT, run_dir, cpu_replicas=2, seed=0,
                              config_files=config_files,
                              params_override=params_override)


def _row(norm: str, metrics: Dict, wall_s) -> Dict:
  row = {'norm': norm, 'steps': metrics['global_step'], 'wall_s': wall_s}
  row.update({k: metrics[k] for k in METRICS})
  return row


def run_norm(norm: str, output_dir: str, train_steps: int,
             params_override: str = '') -> Dict:
  """Trains and evaluates one norm (unless its run finished); returns its row.

  Raises:
    RuntimeError: if the run fails or ends before `train_steps`.
  """
  run_dir = os.path.join(output_dir, norm)
  metrics = runner.read_eval_metrics(run_dir)
  if metrics is not None and metrics['global_step'] >= train_steps:
    return _row(norm, metrics, None)  # Finished earlier; its time unknown.
  result = runner.run_train(train_command(norm, run_dir, params_override),
                            run_dir)
  if not result.ok or result.metrics['global_step'] < train_steps:
    raise RuntimeError(f'The {norm} run failed (exit {result.returncode}): '
                       f'{result.last_error()}')
  return _row(norm, result.metrics, result.wall_s)


def format_table(rows: Sequence[Dict]) -> str:
  """A markdown table of the rows, AP in percent."""
  lines = ['| norm | steps | box AP | AP50 | AP75 | mask AP | AP50 | AP75 |',
           '| --- | --- | --- | --- | --- | --- | --- | --- |']
  for row in rows:
    values = ' | '.join(f'{100 * row[k]:.1f}' for k in METRICS)
    lines.append(f'| {row["norm"]} | {row["steps"]} | {values} |')
  return '\n'.join(lines)


def check(rows: Sequence[Dict], min_box_ap: float,
          min_mask_ap: float) -> List[str]:
  """The benchmark's failures (empty if GN meets its bounds and beats BN)."""
  by_norm = {row['norm']: row for row in rows}
  failures = []
  gn = by_norm.get('group_norm')
  if gn is None:
    return ['no group_norm run']
  if gn['AP'] < min_box_ap:
    failures.append(f'GN box AP {gn["AP"]:.3f} < {min_box_ap}')
  if gn['mask_AP'] < min_mask_ap:
    failures.append(f'GN mask AP {gn["mask_AP"]:.3f} < {min_mask_ap}')
  bn = by_norm.get('batch_norm')
  if bn is not None:
    for key in ('AP', 'mask_AP'):
      if gn[key] <= bn[key]:
        failures.append(f'GN {key} {gn[key]:.3f} <= BN {bn[key]:.3f}')
  return failures


def run_study(norms: Sequence[str], output_dir: str, results_dir: str,
              params_override: str = '', log=print) -> List[Dict]:
  """Runs the norms the results file lacks; returns the requested rows.

  Raises:
    ValueError: for a results file made with other settings.
    RuntimeError: for a failed run (the finished ones stay recorded).
  """
  params = common.get_exp_config(EXPERIMENT)
  if params_override:
    params = hyperparams.override_params_dict(params, params_override,
                                              is_strict=True)
  train_steps = params.trainer.train_steps
  results = runner.ResultsFile(
      os.path.join(results_dir, 'results.json'), ['norm'],
      {'experiment': EXPERIMENT, 'params_override': params_override})
  for i, norm in enumerate(norms, 1):
    row = results.get(norm=norm)
    if row is not None:
      log(f'[{i}/{len(norms)}] {norm}: recorded in {results.path}')
    else:
      log(f'[{i}/{len(norms)}] {norm}: {train_steps} steps, logs in '
          f'{os.path.join(output_dir, norm)}')
      row = run_norm(norm, output_dir, train_steps, params_override)
      results.put(row)
    log(f'    box AP {100 * row["AP"]:.1f}, mask AP '
        f'{100 * row["mask_AP"]:.1f}')
  return [results.get(norm=norm) for norm in norms]


def main(_) -> None:
  """Runs the study from the flags; its exit status is the claim."""
  rows = run_study(FLAGS.norms, FLAGS.output_dir,
                   FLAGS.results_dir or FLAGS.output_dir, FLAGS.params_override)
  print(format_table(rows), flush=True)
  failures = check(rows, FLAGS.min_box_ap, FLAGS.min_mask_ap)
  if failures:
    sys.exit('Benchmark failed: ' + '; '.join(failures))
  print('Benchmark passed.', flush=True)


FLAGS = flags.FLAGS

if __name__ == '__main__':
  flags.DEFINE_string('output_dir', None, 'One run folder per norm goes here.')
  flags.DEFINE_string(
      'results_dir', None, 'Where results.json (also the resume state) goes. '
      'Defaults to --output_dir.')
  flags.DEFINE_list('norms', ['group_norm', 'batch_norm'],
                    f'Which of {list(CONFIG_FILES)} to run.')
  flags.DEFINE_float('min_box_ap', 0.6, 'GN box AP must reach this.')
  flags.DEFINE_float('min_mask_ap', 0.6, 'GN mask AP must reach this.')
  flags.DEFINE_string('params_override', '', 'Extra overrides for every run.')
  flags.mark_flags_as_required(['output_dir'])
  app.run(main)
