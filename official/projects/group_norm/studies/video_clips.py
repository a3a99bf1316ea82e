r"""Video classification on synthetic clips: GN against BN at 1 clip/replica.

  python -m official.projects.group_norm.studies.video_clips \
      --output_dir=runs/video_clips \
      --results_dir=official/projects/group_norm/docs/video_clips

The paper's third transfer task (Sec. 4.3, Table 8) at our scale: the
`video_i3d_gn_clips` experiment (I3D ResNet-3D-GN on clips whose classes come
in time-reversed pairs) trained through the study engine's cells
(`engine.run_cells`: one train.py process per cell on 2 CPU replicas, the
same epochs for every batch, the learning rate linear in the global batch,
the results file as resume state) for:
- GN and BN at 1 clip per replica (`--seeds`, at least 2) and at
  each of `--other_clips` clips per replica (seed 0; default 2, 4 and 8,
  the paper's 4 and 8 among them);
- the control, GN with every temporal kernel 1 (C2D, `group_norm+c2d`) at 1
  clip per replica, seed 0: it sees the frames but not their order, so it can
  at best tell the pairs apart (about 50% top-1).

The top-1 table (`top1.md`: line, clips per replica, top-1 per seed, mean),
`results.csv` and `sweep.png` (error against clips per replica) go to
`--results_dir`.

Exit status, the claim as measured, fixed before the runs: GN's mean top-1
at 1 clip per replica beats BN's by at least `MARGIN` points, and beats the
C2D control's by at least `TIME_MARGIN` points (the I3D models use time).
"""

import os
import sys
from typing import Dict, List, Sequence

from absl import app
from absl import flags

from official.projects.group_norm import runner
from official.projects.group_norm.studies import engine

EXPERIMENT = 'video_i3d_gn_clips'
REPLICAS = 2
MARGIN = 5.0  # Points of top-1: GN over BN at 1 clip per replica.
TIME_MARGIN = 10.0  # Points of top-1: I3D-GN over the C2D control.


def top1_by_cell(rows: Sequence[Dict]) -> Dict[tuple, List[float]]:
  """{(line, clips per replica): [top-1 % per seed]} of the ok rows."""
  table: Dict[tuple, List[float]] = {}
  for row in rows:
    if row['status'] == 'ok':
      table.setdefault((row['line'], row['per_replica_batch']), []).append(
          100 * (1 - row['val_error']))
  return table


def format_table(rows: Sequence[Dict]) -> str:
  """Markdown: per line and clips per replica, top-1 % per seed and mean."""
  lines = ['| line | clips per replica | seeds | top-1 % per seed | '
           'mean top-1 % |', '|' + ' --- |' * 5]
  for (line, clips), values in sorted(top1_by_cell(rows).items()):
    per_seed = ', '.join(f'{v:.1f}' for v in values)
    lines.append(f'| {line} | {clips} | {len(values)} | {per_seed} | '
                 f'{sum(values) / len(values):.1f} |')
  return '\n'.join(lines)


def check(rows: Sequence[Dict]) -> List[str]:
  """The benchmark's failures (empty when both margins hold)."""
  table = top1_by_cell(rows)

  def mean(line):
    values = table.get((line, 1))
    return sum(values) / len(values) if values else None

  gn, bn, c2d = (mean('group_norm'), mean('batch_norm'),
                 mean('group_norm+c2d'))
  if None in (gn, bn, c2d):
    return ['GN, BN and the C2D control at 1 clip per replica are needed']
  failures = []
  if gn - bn < MARGIN:
    failures.append(f'GN top-1 {gn:.1f} is not {MARGIN} points above BN '
                    f'{bn:.1f} at 1 clip per replica')
  if gn - c2d < TIME_MARGIN:
    failures.append(f'GN top-1 {gn:.1f} is not {TIME_MARGIN} points above '
                    f'the C2D control {c2d:.1f}')
  return failures


def run_study(output_dir: str, results_dir: str, seeds: Sequence[int],
              other_clips: Sequence[int], log=print) -> List[Dict]:
  """Runs the cells the results file lacks; returns every requested row."""
  common = dict(experiment=EXPERIMENT, cpu_replicas=REPLICAS,
                output_dir=output_dir, results_dir=results_dir, log=log)
  rows, _ = engine.run_cells(lines=['batch_norm', 'group_norm'],
                             per_replica_batch_sizes=[1], seeds=seeds,
                             **common)
  rows += engine.run_cells(lines=['batch_norm', 'group_norm'],
                           per_replica_batch_sizes=list(other_clips),
                           seeds=[0], **common)[0]
  rows += engine.run_cells(lines=['group_norm+c2d'],
                           per_replica_batch_sizes=[1], seeds=[0],
                           **common)[0]
  write_plot(results_dir, runner.read_rows(results_dir))
  return rows


def write_plot(results_dir: str, rows: Sequence[Dict]) -> None:
  """`sweep.png`: validation error against clips per replica, every row."""
  table = engine.summarize(rows)
  clips = sorted({r['per_replica_batch'] for r in rows}, reverse=True)
  engine.plot(table, clips, os.path.join(results_dir, 'sweep.png'),
              f'{EXPERIMENT}, {REPLICAS} replicas', unit='clips')


def main(_) -> None:
  """Runs the study from the flags; its exit status is the claim."""
  if len(FLAGS.seeds) < 2:
    sys.exit('Give at least 2 --seeds for the 1-clip cells.')
  results_dir = runner.results_dir(FLAGS.results_dir, FLAGS.output_dir)
  rows = run_study(FLAGS.output_dir, results_dir,
                   [int(s) for s in FLAGS.seeds],
                   [int(c) for c in FLAGS.other_clips])
  failed = [r for r in rows if r['status'] != 'ok']
  if failed:
    sys.exit(f'{len(failed)} run(s) failed; see their folders under '
             f'{os.path.join(FLAGS.output_dir, "runs")}.')
  table = format_table(rows)
  with open(os.path.join(results_dir, 'top1.md'), 'w') as f:
    f.write(table + '\n')
  print(table, flush=True)
  failures = check(rows)
  if failures:
    sys.exit('Benchmark failed: ' + '; '.join(failures) + '.')
  print('Benchmark passed.', flush=True)


FLAGS = flags.FLAGS

if __name__ == '__main__':
  flags.DEFINE_string('output_dir', None, 'One run folder per cell goes here.')
  flags.DEFINE_string('results_dir', None, 'Where results.json (also the '
                      'resume state) and the report go. Defaults to '
                      '--output_dir.')
  flags.DEFINE_list('seeds', ['0', '1'], 'Seeds of the 1-clip cells.')
  flags.DEFINE_list('other_clips', ['2', '4', '8'], 'Further clips per '
                    'replica for GN and BN (seed 0).')
  flags.mark_flags_as_required(['output_dir'])
  app.run(main)
