"""The Fashion-MNIST batch-size study: parts, claims with intervals, report."""

import os

import pytest

from official.projects.group_norm import runner
from official.projects.group_norm.studies import fashion_mnist as study


def _rows(errors):
  """Rows from {(line, batch): [error % per seed 0, 1, ...]}."""
  return [{'line': line, 'per_replica_batch': batch, 'global_batch': 2 * batch,
           'seed': seed, 'val_error': error / 100, 'status': 'ok'}
          for (line, batch), values in errors.items()
          for seed, error in enumerate(values)]


def _paper_like(bn2=(30.0, 31.0, 29.0, 30.5, 29.5), gn32=(25.0, 25.2, 24.8),
                ln32=(26.0, 26.5, 25.5)):
  errors = {('group_norm', b): [25.0, 25.3, 24.8] for b in study.BATCHES}
  errors[('group_norm', 32)] = list(gn32)
  errors[('group_norm', 2)] = [25.1, 25.2, 24.9, 25.0, 25.3]
  errors.update({('batch_norm', 32): [24.6, 24.9, 24.7],
                 ('batch_norm', 16): [24.8, 25.0, 24.9],
                 ('batch_norm', 2): list(bn2),
                 ('layer_norm', 32): list(ln32),
                 ('instance_norm', 32): [28.0, 28.5, 27.9]})
  return _rows(errors)


def test_the_papers_pattern_holds_every_claim():
  results = study.claims(_paper_like())
  assert [c.held for c in results] == [True] * 6
  text = study.format_claims(results)
  assert text.startswith('- HOLDS: BN at 2 images per replica at least 2.0 '
                         'points above GN at 2, interval above 0. BN - GN at '
                         '2: +4.90 [95% CI ')
  assert '(n=5)' in text and 'spread' in text


def test_each_claim_fails_on_its_own_counterexample():
  held = lambda rows: [c.held for c in study.claims(rows)]  # noqa: E731
  # BN at 2 only 1.5 points worse: the gap claim fails.
  assert held(_paper_like(bn2=(26.5, 26.6, 26.4, 26.5, 26.5)))[0] is False
  # A noisy 2-point gap whose interval crosses 0 fails too.
  assert held(_paper_like(bn2=(20.0, 40.0, 22.0, 30.0, 23.0)))[0] is False
  # GN 2 points worse than BN at 32: the normal-batch claim fails, and the
  # flatness one (GN's means now spread over 2 points).
  assert held(_paper_like(gn32=(26.9, 26.8, 27.0)))[1:4] == [False, True,
                                                              False]
  # LN only 0.3 below GN.
  assert held(_paper_like(ln32=(25.3, 25.2, 25.4)))[4] is False


def test_missing_cells_are_not_measured():
  results = study.claims(_rows({('group_norm', 32): [25.0]}))
  assert [c.held for c in results] == [None] * 6
  assert 'NOT MEASURED' in study.format_claims(results)


def test_parts_cover_the_issues_grid_and_share_results_files():
  main = study.PARTS['main']
  assert (main.lines, main.batches, main.seeds) == (
      ('batch_norm', 'group_norm'), (32, 16, 8, 4, 2), (0, 1, 2))
  assert study.PARTS['small_batch_seeds'].seeds == (3, 4)  # 5 at 2.
  assert study.PARTS['norms'].batches == (32, 2)
  assert len(study.PARTS['ablation'].lines) == 9
  assert {p.results_folder for p in study.PARTS.values()} == {
      'photos', 'plain', 'photos_lr0.1', 'photos_x2'}
  assert study.PARTS['paper_lr'].base_learning_rate == 0.1


def test_report_writes_tables_plots_and_claims(tmp_path):
  results_dir = str(tmp_path)
  rows = _paper_like() + _rows({('group_norm-G4', 32): [25.5, 25.6, 25.4]})
  for row in rows:  # Curves as engine.run_cell records them.
    row['train_curve'] = [[100, 0.5], [200, 0.3]]
    row['val_curve'] = [[100, 0.55], [200, 0.35]]
  for row in rows:
    file = runner.ResultsFile(
        os.path.join(results_dir, 'photos', 'results.json'),
        ('line', 'per_replica_batch', 'seed'), {'experiment': 'x'})
    file.put(row)
  lines = []
  results = study.write_report(results_dir, log=lines.append)
  assert all(c.held for c in results)
  for name in ('table.md', 'claims.md', 'sweep.png', 'curves.png',
               'ablation.md', 'ablation.png'):
    assert os.path.getsize(os.path.join(results_dir, name)) > 100, name
  with open(os.path.join(results_dir, 'table.md')) as f:
    table = f.read()
  assert '| batch_norm | 24.73 ± 0.12 | 24.90 ± 0.08 |' in table
  paper = '| paper: batch_norm (ImageNet) | 23.6 | 23.7 | 24.8 | 27.3 | 34.7'
  assert paper in table
  assert 'Table 1 for LN 25.3, IN 28.4' in table
  with open(os.path.join(results_dir, 'ablation.md')) as f:
    ablation = f.read()  # G=4 and plain GN (the experiment's G=8) at 32.
  assert '| 8 | 25.00 | 3 | +0.00 | 32 | 24.1 |' in ablation
  assert '| 4 | 25.50 | 3 | +0.50 | 16 | 24.6 |' in ablation
  with open(os.path.join(results_dir, 'claims.md')) as f:
    claims_md = f.read()
  assert 'twice as long: not measured' in claims_md
  assert ('spread 0.50 points (paper, matched settings: 0.5; over G = 2..64: '
          '0.6)') in claims_md


def test_convergence_compares_gn_at_32_with_twice_the_epochs():
  rows = _rows({('group_norm', 32): [25.0, 25.2, 24.8]})
  longer = _rows({('group_norm', 32): [24.8, 24.9, 24.9]})
  assert study.convergence(rows, longer).startswith(
      'GN at 32, twice the epochs - the protocol\'s: -0.13 [95% CI')
  assert '(converged' in study.convergence(rows, longer)
  longer = _rows({('group_norm', 32): [23.0, 23.1, 22.9]})
  assert ('NOT converged: within 0.5 point or not; the longer run is better'
          in study.convergence(rows, longer))
  # Worse by more than 0.5 misses the two-sided check too, and says so.
  longer = _rows({('group_norm', 32): [26.0, 26.1, 25.9]})
  assert ('NOT converged: within 0.5 point or not; the longer run is worse'
          in study.convergence(rows, longer))


@pytest.mark.parametrize('name', sorted(study.PARTS))
def test_every_part_builds_its_cells(name):
  from official.projects.group_norm.configs import common  # noqa: PLC0415
  from official.projects.group_norm.studies import engine  # noqa: PLC0415
  part = study.PARTS[name]
  params = common.get_exp_config(part.experiment)
  for line in part.lines:
    for batch in part.batches:
      engine.cell_overrides(params, engine.Cell(line, batch, 0),
                            study.REPLICAS, part.base_learning_rate)


def test_no_counted_cell_runs_before_the_protocol_is_fixed(tmp_path,
                                                           monkeypatch):
  monkeypatch.setattr(study, 'PROTOCOL_FIXED', False)
  with pytest.raises(RuntimeError, match='not fixed this study'):
    study.run_parts(['main'], str(tmp_path / 'runs'), str(tmp_path / 'docs'))
  assert not os.path.exists(tmp_path / 'runs')


@pytest.fixture
def asked(monkeypatch):
  """The (lines, batches, seeds) each part asks the engine for; none run."""
  calls = []

  def run_cells(experiment, lines, batches, seeds, *args, **kwargs):
    calls.append((lines, batches, seeds))
    return [], None

  monkeypatch.setattr(study, 'PROTOCOL_FIXED', True)
  monkeypatch.setattr(study.engine, 'run_cells', run_cells)
  return calls


def test_batches_runs_only_those_cells_of_each_part(tmp_path, asked):
  study.run_parts(['norms', 'ablation', 'small_batch_seeds'],
                  str(tmp_path / 'runs'), str(tmp_path / 'docs'),
                  log=lambda _: None, batches=[32])
  # small_batch_seeds has no cell at 32: it is skipped, not run whole.
  assert asked == [(study.PARTS['norms'].lines, (32,), (0, 1, 2)),
                   (study.PARTS['ablation'].lines, (32,), (0, 1, 2))]


def test_seeds_runs_only_those_seeds_of_each_part(tmp_path, asked):
  study.run_parts(['ablation', 'small_batch_seeds', 'paper_lr'],
                  str(tmp_path / 'runs'), str(tmp_path / 'docs'),
                  log=lambda _: None, seeds=[0])
  # small_batch_seeds plans seeds 3 and 4 only: it is skipped.
  assert asked == [(study.PARTS['ablation'].lines, (32,), (0,)),
                   (study.PARTS['paper_lr'].lines, (32,), (0,))]


def test_a_cell_short_of_its_planned_seeds_gives_no_verdict():
  rows = [r for r in _paper_like()
          if not (r['line'] == 'batch_norm' and r['per_replica_batch'] == 2
                  and r['seed'] == 4)]
  assert study.planned_seeds('batch_norm', 2) == {0, 1, 2, 3, 4}
  assert [c.held for c in study.claims(rows)][0] is None
