"""The video benchmark's claim: margins fixed before the runs."""

from official.projects.group_norm.studies import video_clips


def _row(line, clips, seed, top1):
  return {'line': line, 'per_replica_batch': clips, 'seed': seed,
          'val_error': 1 - top1 / 100, 'status': 'ok'}


def test_check_needs_both_margins_and_every_line():
  rows = [_row('group_norm', 1, 0, 80), _row('group_norm', 1, 1, 70),
          _row('batch_norm', 1, 0, 60), _row('batch_norm', 1, 1, 70),
          _row('group_norm+c2d', 1, 0, 50), _row('batch_norm', 8, 0, 99)]
  assert video_clips.check(rows) == []  # 75 vs 65 and 50.
  rows[2] = _row('batch_norm', 1, 0, 71)  # BN mean 70.5: 4.5 points below.
  assert video_clips.check(rows) == [
      'GN top-1 75.0 is not 5.0 points above BN 70.5 at 1 clip per replica']
  rows[4] = _row('group_norm+c2d', 1, 0, 66)
  assert len(video_clips.check(rows)) == 2
  assert video_clips.check(rows[:4]) == [
      'GN, BN and the C2D control at 1 clip per replica are needed']


def test_table_lists_top1_per_seed_and_mean_per_cell():
  rows = [_row('group_norm', 1, 0, 98), _row('group_norm', 1, 1, 99),
          _row('batch_norm', 1, 0, 18), dict(_row('batch_norm', 8, 0, 99),
                                             status='failed')]
  assert video_clips.format_table(rows).splitlines()[2:] == [
      '| batch_norm | 1 | 1 | 18.0 | 18.0 |',
      '| group_norm | 1 | 2 | 98.0, 99.0 | 98.5 |']
