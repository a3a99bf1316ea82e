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
