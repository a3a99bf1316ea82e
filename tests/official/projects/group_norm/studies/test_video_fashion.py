"""The Table 8 study on Fashion-MNIST clips: parts, claims, the guard."""

import os

import pytest

from official.projects.group_norm.configs import common
from official.projects.group_norm.studies import engine
from official.projects.group_norm.studies import video_fashion as study


def _rows(top1):
  """Rows from {(line, clips): [top-1 % per seed 0, 1, ...]}."""
  return [{'line': line, 'per_replica_batch': clips,
           'global_batch': 2 * clips, 'seed': seed,
           'val_error': (100 - value) / 100, 'status': 'ok'}
          for (line, clips), values in top1.items()
          for seed, value in enumerate(values)]


def _paper_like(bn4=(83.0, 83.4, 82.6), gn_long=(87.5, 87.8, 87.2),
                c2d=(48.0,)):
  short = {('batch_norm', 8): [84.5, 84.8, 84.2],
           ('batch_norm', 4): list(bn4),
           ('group_norm', 8): [85.0, 85.3, 84.9],
           ('group_norm', 4): [84.8, 85.1, 84.7],
           ('group_norm+c2d', 8): list(c2d)}
  long = {('batch_norm', 4): [84.6, 84.7, 84.3],
          ('group_norm', 4): list(gn_long)}
  return _rows(short), _rows(long)


def test_the_papers_pattern_holds_every_claim():
  results = study.claims(*_paper_like())
  assert [c.held for c in results] == [True] * 5
  text = study.stats.format_claims(results)
  assert text.startswith('- HOLDS: BN at 4 clips per replica at least 0.5 '
                         'point below BN at 8. BN at 8 - BN at 4: +1.50 '
                         '[95% CI')


def test_each_claim_fails_on_its_own_counterexample():
  held = lambda rows: [c.held for c in study.claims(*rows)]  # noqa: E731
  # BN at 4 as good as at 8: BN's loss fails, and GN no longer beats it.
  assert held(_paper_like(bn4=(84.5, 84.8, 84.2)))[0] is False
  assert held(_paper_like(bn4=(86.0, 86.0, 86.0)))[2] is False
  # Longer clips gain GN only 0.5 point.
  assert held(_paper_like(gn_long=(85.5, 85.8, 85.4)))[3] is False
  # The order-blind control close to the I3D.
  assert held(_paper_like(c2d=(70.0,)))[4] is False


def test_missing_cells_are_not_measured():
  results = study.claims(_rows({('group_norm', 8): [85.0]}), [])
  assert [c.held for c in results] == [None] * 5
  assert not any('None' in c.evidence for c in results)  # '-', said plainly.


def test_a_cell_short_of_its_planned_seeds_gives_no_verdict():
  short, long = _paper_like()
  assert study.planned_seeds(study.SHORT, 'batch_norm', 4) == {0, 1, 2}
  # Seed 2 of BN at 4 still running: the claims over it wait, the rest stand.
  short = [r for r in short if not (r['line'] == 'batch_norm' and
                                    r['per_replica_batch'] == 4 and
                                    r['seed'] == 2)]
  assert [c.held for c in study.claims(short, long)] == [
      None, True, None, True, True]


def test_every_part_is_a_valid_cell_of_its_experiment():
  for part in study.PARTS.values():
    params = common.get_exp_config(part.experiment)
    for line in part.lines:
      for clips in part.clips:
        engine.cell_overrides(params, engine.Cell(line, clips, 0),
                              study.REPLICAS)


def test_no_counted_cell_runs_before_the_pilot_fixes_the_clips(
    tmp_path, monkeypatch):
  monkeypatch.setattr(study, 'PROTOCOL_FIXED', False)
  with pytest.raises(RuntimeError, match='pilot has not fixed'):
    study.run_parts(['main'], str(tmp_path / 'runs'), str(tmp_path / 'docs'))
  assert not os.path.exists(tmp_path / 'runs')


def test_the_pilot_runs_gn_at_8_clips_into_its_own_folder(monkeypatch):
  calls = []
  monkeypatch.setattr(engine, 'run_cells',
                      lambda *args, **kwargs: calls.append((args, kwargs))
                      or ([], None))
  study.run_pilot('fast', 'task.x=1', 'runs', 'docs', schedule_scale=3.0,
                  log=lambda _: None)
  (args, kwargs), = calls
  assert args == (study.SHORT, ('group_norm',), (8,), (0,), study.REPLICAS,
                  os.path.join('runs', 'pilot', 'fast'),
                  os.path.join('docs', 'pilot', 'fast'))
  assert kwargs['params_override'] == 'task.x=1'
  assert kwargs['schedule_scale'] == 3.0
  # The C2D control can run on the same clips, into the same folder.
  study.run_pilot('fast', 'task.x=1', 'runs', 'docs', log=lambda _: None,
                  lines=['group_norm+c2d'])
  assert calls[1][0][1:3] == (('group_norm+c2d',), (8,))
  assert calls[1][0][6] == os.path.join('docs', 'pilot', 'fast')


@pytest.mark.parametrize('name', ['', '../x', '.hidden'])
def test_a_pilot_name_is_a_plain_folder_name(name):
  with pytest.raises(ValueError, match='plain folder name'):
    study.run_pilot(name, '', 'runs', 'docs')


def test_the_report_sets_the_rows_beside_table_8_and_plots_clips(tmp_path):
  short, long = _paper_like()
  table = study.table8(short, long).splitlines()
  assert '| batch_norm | 8 | 4 | 83.00 ± 0.33 | 3 | 32, 4, 72.1 |' in table
  assert '| group_norm | 16 | 4 | 87.50 ± 0.24 | 3 | 64, 4, 74.5 |' in table
  assert '| group_norm | 8 | 2 | - | 0 | - |' in table  # No such cell yet.
  assert '| group_norm+c2d | 8 | 8 | 48.00 | 1 | - |' in table  # No sd.
  for folder, rows in (('short', short), ('long', long)):
    results = study.runner.ResultsFile(
        os.path.join(tmp_path, folder, study.runner.RESULTS_FILE),
        engine.KEY_FIELDS, {})
    for row in rows:
      results.put(row)
  study.report(str(tmp_path), log=lambda _: None)
  assert os.path.getsize(tmp_path / 'sweep.png') > 1000
  assert (tmp_path / 'table8.md').read_text().splitlines() == table
