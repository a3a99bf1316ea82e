r"""Video as the paper's Table 8, on clips of real objects (Fashion-MNIST).

  python -m official.projects.group_norm.studies.video_fashion \
      --parts=main,small,long,c2d --output_dir=runs/video_fashion \
      --results_dir=official/projects/group_norm/docs/video_fashion

The I3D-GN of `video_i3d_gn_fashion_clips` (clips of Fashion-MNIST items, one
moving up or down; 10 labels, the mover's coarse class and direction; a
frame-order-blind model is capped at 50%)
and its twice-as-long clips (`video_i3d_gn_fashion_clips_long`), through the
study engine's cells (one train.py process per cell on 2 CPU replicas, the
same epochs for every batch, the learning rate linear in the global batch,
the results files as resume state). Every network starts from scratch: no
Fashion-MNIST-pretrained 2-D backbone exists yet to inflate (the detection
study's will be; the paper inflates ImageNet ones).

Parts (`PARTS`): `main` BN and GN at 8 and 4 clips per replica, 3 seeds;
`small` both at 2, 1 seed; `long` both with 16-frame clips at 4 clips per
replica (the memory of 8 frames at 8), 3 seeds; `c2d` the control, GN with
every temporal kernel 1, at 8 clips per replica, 1 seed.

`--pilot=NAME` runs the difficulty pilot instead (GN at 8 clips per replica,
seed 0, with `--pilot_override` applied, e.g. more items a clip or another
data folder; `--pilot_lines=group_norm+c2d` runs the control on the same
clips), allowed before the protocol is fixed; its rows go under
`<results_dir>/pilot/NAME` and count for no claim.

The exit status is the claims, fixed before any counted run (`claims`), each
printed with its paired difference over seeds and 95% interval (top-1
points); `table8.md` sets the rows beside the paper's Table 8 and
`sweep.png` plots error against clips per replica. The pilot sets the clips'
difficulty first (GN at 8 clips per replica between 80 and 92% top-1,
`PILOT_BAND`); until its setting is committed (`PROTOCOL_FIXED`), no
counted cell runs. `--report_only` reports what is recorded.
"""

import os
import sys
from typing import Dict, List, NamedTuple, Sequence, Tuple

from absl import app
from absl import flags
import numpy as np

from official.projects.group_norm import runner
from official.projects.group_norm.studies import engine
from official.projects.group_norm.studies import stats

SHORT = 'video_i3d_gn_fashion_clips'
LONG = 'video_i3d_gn_fashion_clips_long'
REPLICAS = 2
# Set when the pilot has fixed the clips' difficulty (GN at 8 clips per
# replica within PILOT_BAND). Fixed on 2026-12-05 (docs/video_fashion/
# pilot.md, `coarse_one_slow_e18`, now the experiments' defaults): GN 86.75%,
# the C2D control 43.35%; one item, coarse classes, the slower mover, 18
# epochs; every network from scratch.
PROTOCOL_FIXED = True
PILOT_BAND = (80.0, 92.0)  # GN's top-1 % at 8 clips per replica.

# The claims, fixed before the first counted run (points of top-1).
BN_SMALL_BATCH_LOSS = 0.5  # BN at 4 at least this below BN at 8.
GN_FLAT = 1.0  # |GN at 4 - GN at 8| at most this.
LONG_GAIN = 1.0  # GN's gain with longer clips at least this, and above BN's.
TIME_MARGIN = 20.0  # I3D-GN above the C2D control at 8 clips per replica.

# The paper's Table 8 (Kinetics, I3D ResNet-50, top-1 %): (frames, clips/GPU).
PAPER_TABLE8 = {'batch_norm': {(32, 8): 73.3, (32, 4): 72.1, (64, 4): 73.3},
                'group_norm': {(32, 8): 73.0, (32, 4): 72.8, (64, 4): 74.5}}


class Part(NamedTuple):
  """A block of cells: lines x clips per replica x seeds of one experiment."""
  experiment: str
  lines: Tuple[str, ...]
  clips: Tuple[int, ...]
  seeds: Tuple[int, ...]


NORMS = ('batch_norm', 'group_norm')
PARTS = {
    'main': Part(SHORT, NORMS, (8, 4), (0, 1, 2)),
    'small': Part(SHORT, NORMS, (2,), (0,)),
    'long': Part(LONG, NORMS, (4,), (0, 1, 2)),
    'c2d': Part(SHORT, ('group_norm+c2d',), (8,), (0,)),
}


def folder(experiment: str) -> str:
  """Each experiment's rows have their own results file."""
  return 'long' if experiment == LONG else 'short'


def top1_by_seed(rows: Sequence[Dict]) -> Dict[Tuple[str, int],
                                                 Dict[int, float]]:
  """{(line, clips per replica): {seed: top-1 %}} of the ok rows."""
  return {cell: {seed: 100 - error for seed, error in errors.items()}
          for cell, errors in engine.errors_by_seed(rows).items()}


def planned_seeds(experiment: str, line: str, clips: int) -> set:
  """The seeds the parts plan for a cell of an experiment."""
  return {seed for part in PARTS.values() if part.experiment == experiment
          and line in part.lines and clips in part.clips
          for seed in part.seeds}


def claims(short: Sequence[Dict], long: Sequence[Dict]) -> List[stats.Claim]:
  """The five claims over the short- and long-clip rows.

  A cell counts only once every seed the parts plan for it is in: a claim
  over a cell still running has no verdict (NOT MEASURED), never an interim
  one.
  """
  top1, top1_long = top1_by_seed(short), top1_by_seed(long)

  def diff(a, b):
    if not a or not b or not set(a) & set(b):
      return None
    return stats.paired_difference(a, b)

  def cell(line, clips, table=None):
    values = (top1 if table is None else table).get((line, clips), {})
    experiment = SHORT if table is None else LONG
    return (values if planned_seeds(experiment, line, clips) <= set(values)
            else {})

  results = []
  d = diff(cell('batch_norm', 8), cell('batch_norm', 4))
  results.append(stats.Claim(
      f'BN at 4 clips per replica at least {BN_SMALL_BATCH_LOSS} point '
      'below BN at 8', None if d is None else d.mean >= BN_SMALL_BATCH_LOSS,
      f'BN at 8 - BN at 4: {d or "-"} (paper +1.2)'))
  d = diff(cell('group_norm', 4), cell('group_norm', 8))
  results.append(stats.Claim(
      f'|GN at 4 - GN at 8| at most {GN_FLAT} point',
      None if d is None else abs(d.mean) <= GN_FLAT,
      f'GN at 4 - GN at 8: {d or "-"} (paper -0.2)'))
  d = diff(cell('group_norm', 4), cell('batch_norm', 4))
  results.append(stats.Claim(
      'GN at 4 clips per replica at least BN at 4',
      None if d is None else d.mean >= 0,
      f'GN - BN at 4: {d or "-"} (paper +0.7)'))
  gains = {}  # {norm: {seed: long-clip top-1 at 4 - short-clip at 8}}
  for norm in NORMS:
    longer, shorter = cell(norm, 4, top1_long), cell(norm, 8)
    gains[norm] = {seed: longer[seed] - shorter[seed]
                   for seed in set(longer) & set(shorter)}
  gn_gain, bn_gain = gains['group_norm'], gains['batch_norm']
  gap = diff(gn_gain, bn_gain)
  results.append(stats.Claim(
      f'with 2x longer clips at half the clips per replica GN gains at least '
      f'{LONG_GAIN} point, and more than BN gains',
      None if gap is None else (
          float(np.mean(list(gn_gain.values()))) >= LONG_GAIN and
          gap.mean > 0),
      'GN long@4 - GN@8: ' + (str(stats.mean_interval(gn_gain)) if gn_gain
                              else '-') + ' (paper +1.5); BN long@4 - BN@8: '
      + (str(stats.mean_interval(bn_gain)) if bn_gain else '-') +
      f' (paper +0.0); GN gain - BN gain: {gap or "-"}'))
  gn8 = cell('group_norm', 8)
  c2d = cell('group_norm+c2d', 8)
  measured = bool(gn8) and bool(c2d)
  margin = (float(np.mean(list(gn8.values()))) -
            float(np.mean(list(c2d.values())))) if measured else None
  results.append(stats.Claim(
      f'I3D-GN at least {TIME_MARGIN} points above the C2D control at 8 '
      'clips per replica', None if margin is None else margin >= TIME_MARGIN,
      'I3D-GN mean - C2D: ' + ('-' if margin is None else
                               f'{margin:+.2f} (control: 1 seed)')))
  return results


def run_parts(parts: Sequence[str], output_dir: str, results_dir: str,
              log=print) -> List[Dict]:
  """Runs the parts' missing cells; returns their rows.

  Raises:
    RuntimeError: while the pilot has not fixed the clips (`PROTOCOL_FIXED`).
  """
  if not PROTOCOL_FIXED:
    raise RuntimeError(
        'The pilot has not fixed the clips\' difficulty yet (GN at 8 clips '
        f'per replica within {PILOT_BAND} % top-1): no counted cell runs '
        'before it is.')
  rows = []
  for name in parts:
    part = PARTS[name]
    log(f'Part {name!r}: {part.experiment}, {part.lines} at {part.clips} '
        f'clips per replica, seeds {part.seeds}.')
    rows += engine.run_cells(
        part.experiment, part.lines, part.clips, part.seeds, REPLICAS,
        os.path.join(output_dir, folder(part.experiment)),
        os.path.join(results_dir, folder(part.experiment)), log=log)[0]
  return rows


PILOT = Part(SHORT, ('group_norm',), (8,), (0,))


def run_pilot(name: str, override: str, output_dir: str, results_dir: str,
              schedule_scale: float = 1.0, log=print,
              lines: Sequence[str] = PILOT.lines) -> List[Dict]:
  """Runs one pilot setting (`PILOT` with `override`); returns its rows.

  `lines` may add the C2D control (`group_norm+c2d`) to check, on the same
  clips, that the setting leaves it well below GN.
  """
  run_dir = runner.pilot_folder(output_dir, name)
  log(f'Pilot {name!r}: {", ".join(lines)} at 8 clips per replica, seed 0, '
      f'override {override!r}, {schedule_scale}x the epochs (counts for no '
      'claim).')
  return engine.run_cells(
      PILOT.experiment, tuple(lines), PILOT.clips, PILOT.seeds, REPLICAS,
      run_dir, runner.pilot_folder(results_dir, name), params_override=override,
      schedule_scale=schedule_scale, log=log)[0]


# Table 8's rows: (frames here, clips per replica, long clips?, the paper's
# (frames, clips per GPU) or None where it ran no such row).
TABLE8_ROWS = ((8, 8, False, (32, 8)), (8, 4, False, (32, 4)),
               (8, 2, False, None), (16, 4, True, (64, 4)))


def table8(short: Sequence[Dict], long: Sequence[Dict]) -> str:
  """Markdown: top-1 % of each norm's rows beside the paper's Table 8."""
  top1, top1_long = top1_by_seed(short), top1_by_seed(long)
  lines = ['| norm | frames | clips per replica | top-1 % (mean ± sd) | seeds '
           '| paper: frames, clips per GPU, top-1 % |',
           '| --- | ---: | ---: | ---: | ---: | --- |']
  rows = [(norm, *row) for norm in NORMS for row in TABLE8_ROWS]
  rows.append(('group_norm+c2d', 8, 8, False, None))
  for line, frames, clips, is_long, paper in rows:
    by_seed = (top1_long if is_long else top1).get((line, clips), {})
    values = list(by_seed.values())
    ours = (f'{np.mean(values):.2f}' if values else '-')
    if len(values) > 1:  # One seed has no spread to show.
      ours += f' ± {np.std(values):.2f}'
    theirs = (f'{paper[0]}, {paper[1]}, {PAPER_TABLE8[line][paper]}'
              if paper else '-')
    lines.append(f'| {line} | {frames} | {clips} | {ours} | {len(values)} '
                 f'| {theirs} |')
  return '\n'.join(lines)


def plot(short: Sequence[Dict], long: Sequence[Dict], path: str) -> None:
  """Error against clips per replica (the paper's Figure 1 for video)."""
  table = {line: by_clips for line, by_clips in engine.summarize(short).items()
           if line in NORMS}
  for line, by_clips in engine.summarize(long).items():
    table[f'{line}, 16 frames'] = by_clips
  engine.plot(table, (8, 4, 2), path, 'I3D on Fashion-MNIST clips',
              unit='clips', bars='std')


def report(results_dir: str, log=print) -> List[stats.Claim]:
  """Prints and writes the claims (`claims.md`), `table8.md`, `sweep.png`."""
  short = runner.read_rows(os.path.join(results_dir, 'short'))
  long = runner.read_rows(os.path.join(results_dir, 'long'))
  results = claims(short, long)
  text = stats.format_claims(results)
  os.makedirs(results_dir, exist_ok=True)
  with open(os.path.join(results_dir, 'claims.md'), 'w') as f:
    f.write(text + '\n')
  with open(os.path.join(results_dir, 'table8.md'), 'w') as f:
    f.write(table8(short, long) + '\n')
  if short or long:
    plot(short, long, os.path.join(results_dir, 'sweep.png'))
  log(text)
  return results


def main(_) -> None:
  """Runs the parts (unless --report_only); the exit status is the claims."""
  unknown = sorted(set(FLAGS.parts) - set(PARTS))
  if unknown:
    sys.exit(f'Unknown parts {unknown}; known: {sorted(PARTS)}.')
  results_dir = runner.results_dir(FLAGS.results_dir, FLAGS.output_dir)
  if FLAGS.pilot:
    rows = run_pilot(FLAGS.pilot, FLAGS.pilot_override, FLAGS.output_dir,
                     results_dir, FLAGS.pilot_schedule_scale,
                     lines=FLAGS.pilot_lines)
    for row in rows:
      print(f'Pilot {FLAGS.pilot!r}: {row["line"]} top-1 at 8 clips per '
            f'replica {100 * (1 - row["val_error"]):.2f}% (GN\'s band '
            f'{PILOT_BAND}).')
    return
  if not FLAGS.report_only:
    try:
      run_parts(FLAGS.parts, FLAGS.output_dir, results_dir)
    except RuntimeError as e:
      sys.exit(str(e))
  results = report(results_dir)
  if not all(c.held for c in results):
    sys.exit('Not every claim holds (see above).')


FLAGS = flags.FLAGS

if __name__ == '__main__':
  flags.DEFINE_list('parts', sorted(PARTS), f'Parts to run, of '
                    f'{sorted(PARTS)}.')
  flags.DEFINE_string('output_dir', None, 'One run folder per cell goes here.')
  flags.DEFINE_string('results_dir', None, 'Where the results files (the '
                      'resume state) and the report go. Defaults to '
                      '--output_dir.')
  flags.DEFINE_boolean('report_only', False, 'Run nothing; report what is '
                       'recorded.')
  flags.DEFINE_string('pilot', None, 'Run the difficulty pilot under this '
                      'name instead of the parts.')
  flags.DEFINE_string('pilot_override', '', 'The pilot\'s --params_override '
                      '(e.g. task.fashion_clips_items=3 with its own data '
                      'paths).')
  flags.DEFINE_list('pilot_lines', list(PILOT.lines), 'The pilot\'s lines '
                    '(add group_norm+c2d for the control).')
  flags.DEFINE_float('pilot_schedule_scale', 1.0, 'The pilot trains this '
                     'times the experiment\'s epochs.')
  flags.mark_flags_as_required(['output_dir'])
  app.run(main)
