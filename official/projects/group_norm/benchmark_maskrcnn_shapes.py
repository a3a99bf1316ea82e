r"""Mask R-CNN on synthetic shapes, GN against BN at one image per replica.

  python -m official.projects.group_norm.benchmark_maskrcnn_shapes \
      --output_dir=runs/maskrcnn_shapes

For each norm it runs the project's train script in its own process:

  python -m official.projects.group_norm.train --experiment=maskrcnn_gn_shapes \
      --mode=train_and_eval --cpu_replicas=2 --seed=0 \
      --model_dir=OUTPUT_DIR/<norm> [--config_file=<BN yaml>]

(3000 steps at global batch 2 on 2 CPU replicas, COCO box and mask AP on the
200 validation images at steps 1000, 2000 and 3000), then writes
`results.json` and prints a markdown table. A norm whose run already finished
(its `eval_metrics.json` is at the last step) is not run again.

Exits non-zero if GN's box or mask AP is below `--min_box_ap` /
`--min_mask_ap`, or if GN does not beat BN on both: the paper's claim at this
scale, as a benchmark anyone can rerun (about 15 minutes a norm on 2 cores).
"""

import json
import os
import subprocess
import sys
import time
from typing import Dict, List, Sequence

from absl import app
from absl import flags

from official.modeling import hyperparams
from official.projects.group_norm import trainer as trainer_lib

EXPERIMENT = 'maskrcnn_gn_shapes'
CONFIG_FILES = {
    'group_norm': None,
    'batch_norm': os.path.join(os.path.dirname(__file__), 'configs',
                               'experiments', 'maskrcnn_gn_shapes_bn.yaml'),
}
METRICS = ('AP', 'AP50', 'AP75', 'mask_AP', 'mask_AP50', 'mask_AP75')


def train_command(norm: str, run_dir: str, params_override: str = '') -> List[str]:
  """The train.py command line of one norm's run."""
  if norm not in CONFIG_FILES:
    raise ValueError(f'Unknown norm {norm!r}; choose from {list(CONFIG_FILES)}.')
  command = [sys.executable, '-m', 'official.projects.group_norm.train',
             f'--experiment={EXPERIMENT}', '--mode=train_and_eval',
             '--cpu_replicas=2', '--seed=0', f'--model_dir={run_dir}']
  if CONFIG_FILES[norm]:
    command.append(f'--config_file={CONFIG_FILES[norm]}')
  if params_override:
    command.append(f'--params_override={params_override}')
  return command


def _finished_metrics(run_dir: str, train_steps: int):
  path = os.path.join(run_dir, trainer_lib.EVAL_METRICS_FILE)
  if not os.path.exists(path):
    return None
  with open(path) as f:
    metrics = json.load(f)
  return metrics if metrics['global_step'] >= train_steps else None


def run_norm(norm: str, output_dir: str, train_steps: int,
             params_override: str = '') -> Dict:
  """Trains and evaluates one norm (unless already done); returns its row."""
  run_dir = os.path.join(output_dir, norm)
  metrics = _finished_metrics(run_dir, train_steps)
  wall_s = None
  if metrics is None:
    os.makedirs(run_dir, exist_ok=True)
    start = time.monotonic()
    with open(os.path.join(run_dir, 'train.log'), 'a') as log:
      returncode = subprocess.call(
          train_command(norm, run_dir, params_override), stdout=log,
          stderr=subprocess.STDOUT)
    wall_s = round(time.monotonic() - start, 1)
    metrics = _finished_metrics(run_dir, train_steps)
    if returncode or metrics is None:
      raise RuntimeError(f'The {norm} run failed (exit {returncode}); see '
                         f'{os.path.join(run_dir, "train.log")}.')
  row = {'norm': norm, 'steps': metrics['global_step'], 'wall_s': wall_s}
  row.update({k: metrics[k] for k in METRICS})
  return row


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


def main(_) -> None:
  from official.projects.group_norm import registry_imports  # pylint: disable=g-import-not-at-top
  params = registry_imports.get_exp_config(EXPERIMENT)
  if FLAGS.params_override:
    params = hyperparams.override_params_dict(params, FLAGS.params_override,
                                              is_strict=True)
  train_steps = params.trainer.train_steps
  rows = []
  for i, norm in enumerate(FLAGS.norms):
    print(f'[{i + 1}/{len(FLAGS.norms)}] {norm}: {train_steps} steps, log in '
          f'{os.path.join(FLAGS.output_dir, norm, "train.log")}', flush=True)
    rows.append(run_norm(norm, FLAGS.output_dir, train_steps,
                         FLAGS.params_override))
    print(f'    box AP {100 * rows[-1]["AP"]:.1f}, mask AP '
          f'{100 * rows[-1]["mask_AP"]:.1f}', flush=True)
  with open(os.path.join(FLAGS.output_dir, 'results.json'), 'w') as f:
    json.dump(rows, f, indent=1)
  print(format_table(rows), flush=True)
  failures = check(rows, FLAGS.min_box_ap, FLAGS.min_mask_ap)
  if failures:
    sys.exit('Benchmark failed: ' + '; '.join(failures))
  print('Benchmark passed.', flush=True)


FLAGS = flags.FLAGS

if __name__ == '__main__':
  flags.DEFINE_string('output_dir', None, 'One folder per norm goes here.')
  flags.DEFINE_list('norms', ['group_norm', 'batch_norm'],
                    f'Which of {list(CONFIG_FILES)} to run.')
  flags.DEFINE_float('min_box_ap', 0.6, 'GN box AP must reach this.')
  flags.DEFINE_float('min_mask_ap', 0.6, 'GN mask AP must reach this.')
  flags.DEFINE_string('params_override', '', 'Extra overrides for every run.')
  flags.mark_flags_as_required(['output_dir'])
  app.run(main)
