"""Interleaved timing for the benchmarks.

Every implementation takes its turn within each repeat, so drifting load on
a shared machine hits them alike; minima are the stable statistic there.
"""

import statistics
import time
from typing import Callable, Dict


def minima(steps: Dict[str, Callable[[], object]], repeats: int,
           warmup: int) -> Dict[str, Dict[str, float]]:
  """{name: {'min_ms', 'median_ms'}} of each step, run round-robin.

  Args:
    steps: Functions that run one step each and wait for it to finish.
    repeats: Timed rounds.
    warmup: Untimed calls of each step first (tracing, compilation).
  """
  for step in steps.values():
    for _ in range(warmup):
      step()
  times = {name: [] for name in steps}
  for _ in range(repeats):
    for name, step in steps.items():
      start = time.perf_counter()
      step()
      times[name].append((time.perf_counter() - start) * 1e3)
  return {name: {'min_ms': min(t), 'median_ms': statistics.median(t)}
          for name, t in times.items()}
