"""Paired differences over seeds with their 95% intervals, for study claims.

Two lines of a study run with the same seeds (weights and data order) are
compared seed by seed: the mean of the differences, and its Student-t 95%
interval over the seeds both ran. With one seed there is no interval (NaN).
"""

import dataclasses
import math
from typing import Dict, Optional, Sequence

import numpy as np
from scipy import stats as scipy_stats

CONFIDENCE = 0.95


@dataclasses.dataclass(frozen=True)
class Difference:
  """The mean of a − b over paired seeds and its 95% interval.

  Attributes:
    mean: Mean of the per-seed differences (points).
    low: Lower end of its 95% t-interval (NaN with fewer than 2 seeds).
    high: Upper end.
    seeds: How many seeds both sides have.
  """
  mean: float
  low: float
  high: float
  seeds: int

  @property
  def excludes_zero(self) -> bool:
    """Whether the interval lies wholly on one side of 0."""
    return self.low > 0 or self.high < 0

  def __str__(self) -> str:
    """'+2.10 [95% CI +0.80, +3.40] (n=5)'."""
    if math.isnan(self.low):
      return f'{self.mean:+.2f} (n={self.seeds}, no interval)'
    return (f'{self.mean:+.2f} [95% CI {self.low:+.2f}, {self.high:+.2f}] '
            f'(n={self.seeds})')


def paired_difference(a: Dict[int, float], b: Dict[int, float]
                      ) -> Difference:
  """The mean of a − b over the seeds both have ({seed: value} each).

  Raises:
    ValueError: if they share no seed.
  """
  seeds = sorted(set(a) & set(b))
  if not seeds:
    raise ValueError(f'No common seeds: {sorted(a)} and {sorted(b)}.')
  diffs = np.array([a[s] - b[s] for s in seeds], dtype=np.float64)
  mean = float(diffs.mean())
  if len(diffs) < 2:
    return Difference(mean, math.nan, math.nan, len(diffs))
  half = (scipy_stats.t.ppf(0.5 + CONFIDENCE / 2, len(diffs) - 1) *
          diffs.std(ddof=1) / math.sqrt(len(diffs)))
  return Difference(mean, mean - half, mean + half, len(diffs))


def mean_interval(values: Dict[int, float]) -> Difference:
  """The mean of `values` and its 95% t-interval (a difference from 0)."""
  return paired_difference(values, {s: 0.0 for s in values})


@dataclasses.dataclass
class Claim:
  """A claim's statement, outcome (None: cells missing) and numbers."""
  statement: str
  held: Optional[bool]
  evidence: str


def format_claims(results: Sequence[Claim]) -> str:
  """One line per claim, its outcome, then its numbers."""
  words = {True: 'HOLDS', False: 'FAILS', None: 'NOT MEASURED'}
  return '\n'.join(f'- {words[c.held]}: {c.statement}. {c.evidence}'
                   for c in results)
