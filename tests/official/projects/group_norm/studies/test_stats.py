"""Paired differences over seeds: the t-interval against a hand computation."""

import math

import pytest

from official.projects.group_norm.studies import stats


def test_paired_difference_is_the_t_interval_of_the_seed_differences():
  a = {0: 10.0, 1: 12.0, 2: 11.0, 7: 99.0}  # Seed 7 has no partner.
  b = {0: 8.0, 1: 9.0, 2: 10.0}
  d = stats.paired_difference(a, b)
  # Differences 2, 3, 1: mean 2, sd 1, t(0.975, 2) = 4.302653.
  half = 4.302653 * 1.0 / math.sqrt(3)
  assert (d.mean, d.seeds) == (2.0, 3)
  assert d.low == pytest.approx(2 - half, abs=1e-5)
  assert d.high == pytest.approx(2 + half, abs=1e-5)
  assert not d.excludes_zero  # 2 - 2.48 < 0.
  assert str(d) == '+2.00 [95% CI -0.48, +4.48] (n=3)'


def test_one_seed_has_no_interval_and_no_seeds_raise():
  d = stats.paired_difference({0: 3.0}, {0: 1.0})
  assert d.mean == 2.0 and math.isnan(d.low) and not d.excludes_zero
  assert 'no interval' in str(d)
  with pytest.raises(ValueError, match='No common seeds'):
    stats.paired_difference({0: 1.0}, {1: 1.0})


def test_a_consistent_difference_excludes_zero():
  d = stats.paired_difference({s: 5.0 + 0.1 * s for s in range(5)},
                              {s: 1.0 for s in range(5)})
  assert d.excludes_zero and d.low > 3.9
  assert stats.mean_interval({0: 1.0, 1: 3.0}).mean == 2.0
