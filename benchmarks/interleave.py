"""Interleaved timing for the benchmarks.

Every implementation takes its turn within each repeat, so drifting load on
a shared machine hits them alike; minima are the stable statistic there.
"""

import argparse
import json
import platform
import statistics
import time
from typing import Callable, Dict, List, Optional, Sequence


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


def case_parser(doc: str, repeats: int,
                shapes: Sequence[str]) -> argparse.ArgumentParser:
  """The flags every interleaved benchmark takes (add your own to it).

  Args:
    doc: The script's docstring (its first line describes it).
    repeats: The default of --repeats.
    shapes: The default cases, 'HxWxC' each.
  """
  parser = argparse.ArgumentParser(description=doc.split('\n')[0])
  parser.add_argument('--shapes', default=','.join(shapes),
                      help='HxWxC per case, comma-separated.')
  parser.add_argument('--batch_sizes', default='2,8')
  parser.add_argument('--dtypes', default='float32,bfloat16')
  parser.add_argument('--repeats', type=int, default=repeats)
  parser.add_argument('--warmup', type=int, default=3)
  parser.add_argument('--output', default=None, help='JSON file to write.')
  return parser


def write_results(path: Optional[str], rows: List[Dict], **about) -> None:
  """Writes the rows and what they were measured on (`about`) as JSON."""
  if not path:
    return
  with open(path, 'w') as f:
    json.dump({**about, 'host': platform.node(),
               'statistic': 'min over interleaved repeats', 'rows': rows},
              f, indent=1)
  print(f'Wrote {path}')


class Table:
  """A benchmark's table: prints each case as it comes and keeps its row.

  Args:
    about: What runs where (libraries, versions, device).
    repeats: Interleaved repeats of each case.
    mode: How the steps run ('jit', 'eager').
    case_width: Width of the case column.
    implementations: The timed implementations, in column order.
    ratios: {column title: (numerator, denominator)} implementations whose
      minima's ratio each row reports (as '<numerator>_over_<denominator>').
  """

  def __init__(self, about: str, repeats: int, mode: str, case_width: int,
               implementations: Sequence[str],
               ratios: Dict[str, Sequence[str]]):
    self.rows: List[Dict] = []
    self._case_width = case_width
    self._implementations = implementations
    self._ratios = {f'{a}_over_{b}': (a, b, len(title) + 2)
                    for title, (a, b) in ratios.items()}
    print(f'{about}; {repeats} interleaved repeats, forward+backward, '
          f'{mode}; ms are minima (medians in the JSON).')
    print(f'{"case":<{case_width}}' +
          ''.join(f'{i:>11}' for i in implementations) +
          ''.join(f'{t:>{len(t) + 2}}' for t in ratios))

  def add(self, case: str, fields: Dict, times: Dict[str, Dict]) -> None:
    """Records and prints one case: `minima`'s times and the ratios."""
    best = {impl: t['min_ms'] for impl, t in times.items()}
    row = {**fields, 'times': times, **{
        key: best[a] / best[b] for key, (a, b, _) in self._ratios.items()}}
    self.rows.append(row)
    print(f'{case:<{self._case_width}}' +
          ''.join(f'{best[i]:>11.3f}' for i in self._implementations) +
          ''.join(f'{row[key]:>{width}.2f}'
                  for key, (_, _, width) in self._ratios.items()),
          flush=True)
