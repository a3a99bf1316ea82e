"""Says whether a `pip install --dry-run --report` would install a CPU torch.

Usage: python scripts/cpu_torch.py REPORT.json. Exit 0 when the report
installs a `+cpu` torch and no CUDA package (nvidia-*, triton), or installs
none and the running Python already has a `+cpu` torch; otherwise
exit 1 and print why, in one line, for scripts/bootstrap.sh to keep.
"""

import importlib.metadata
import json
import sys


def main(report_path):
  """0 if the report's torch is a CPU build, else 1 (why is printed)."""
  with open(report_path) as f:
    installs = json.load(f)['install']
  found = {item['metadata']['name'].lower(): item['metadata']['version']
           for item in installs}
  cuda = sorted(name for name in found
                if name.startswith(('nvidia-', 'triton', 'cuda-')))
  torch = found.get('torch', '')
  if not torch:  # Nothing to install: the one this Python has, if any.
    try:
      torch = importlib.metadata.version('torch')
    except importlib.metadata.PackageNotFoundError:
      pass
  if torch.endswith('+cpu') and not cuda:
    return 0
  print(f'pip resolves torch==2.13.0 to torch {torch or "(none)"}'
        + (f' with {len(cuda)} CUDA packages ({", ".join(cuda[:3])}...)'
           if cuda else ', not the CPU build') + ', a download of several GB')
  return 1


if __name__ == '__main__':
  sys.exit(main(sys.argv[1]))
