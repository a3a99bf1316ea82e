"""Small Fashion-MNIST look-alikes for tests: four IDX files written here."""

import gzip
import os
import struct
from typing import Dict

import numpy as np

from official.projects.group_norm.data import fashion_mnist

COUNTS = {'train': 30, 'test': 10}  # 3 training and 1 test item a class.


def idx_bytes(array: np.ndarray) -> bytes:
  """The IDX encoding of a uint8 array."""
  header = b'\0\0\x08' + bytes([array.ndim])
  return header + b''.join(struct.pack('>I', d) for d in array.shape) + (
      array.astype(np.uint8).tobytes())


def write_files(folder: str, seed: int = 0) -> Dict[str, str]:
  """Writes the four files into `folder`; returns their SHA-256 by name."""
  rng = np.random.default_rng(seed)
  os.makedirs(folder, exist_ok=True)
  arrays = {}
  for split, count in COUNTS.items():
    arrays[f'{split}_images'] = rng.integers(
        0, 256, size=(count,) + fashion_mnist.IMAGE_SHAPE, dtype=np.uint8)
    arrays[f'{split}_labels'] = np.arange(count, dtype=np.uint8) % 10
  for key, name in fashion_mnist.FILES.items():
    with gzip.open(os.path.join(folder, name), 'wb') as f:
      f.write(idx_bytes(arrays[key]))
  return {name: fashion_mnist.sha256(os.path.join(folder, name))
          for name in fashion_mnist.FILES.values()}


def use_test_files(monkeypatch, module, maker: str, folder: str, **small):
  """Makes `module.maker` (a Fashion-MNIST data maker) read test files.

  Writes the four files into `folder`; each call of the maker then reads
  them through the explicit route, with `small` replacing its arguments
  (fewer examples).

  Returns:
    The keyword arguments each call received, before the replacement.
  """
  hashes = write_files(folder)
  made = []
  real = getattr(module, maker)

  def from_test_files(output_dir, **kwargs):
    made.append(dict(kwargs))
    kwargs.update(small)
    return real(output_dir, fashion_mnist_dir=folder, routes=['explicit'],
                hashes=hashes, counts=COUNTS, **kwargs)

  monkeypatch.setattr(module, maker, from_test_files)
  return made
