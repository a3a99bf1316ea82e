"""Fashion-MNIST's four files, found where a package put them, downloaded last.

Fashion-MNIST (Zalando Research, MIT licence) is 60,000 training and 10,000
test images, 28 x 28 grey, 10 balanced classes of clothing. `find_files` looks
for its four IDX files along `ROUTES`, in order, and says which route it took:

1. `explicit`: a folder given by the caller (`--fashion_mnist_dir`) or
   `$GN_FASHION_MNIST_FILES`;
2. `keras_cache`: Keras' own cache, `$KERAS_HOME/datasets/fashion-mnist` (or
   `~/.keras/...`), where `keras.datasets.fashion_mnist.load_data()` keeps them;
3. `system`: `/usr/share/datasets/fashion-mnist`, Debian's package
   `dataset-fashion-mnist` installed system-wide;
4. `debian_package`: that package fetched with `apt-get download` and
   unpacked with `dpkg-deb -x` (no root) into `~/.cache/gn_keras`, where those
   commands exist;
5. `keras_download`: Keras' own download (needs the internet).

A folder counts only when all four files are there and each has the SHA-256
recorded here; `load` then checks counts, shapes and labels. Nothing is left
half-written: the Debian route unpacks in a temporary folder and moves the
checked files into place in one rename.
"""

import gzip
import hashlib
import os
import shutil
import subprocess
import tempfile
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np

FILES = {
    'train_images': 'train-images-idx3-ubyte.gz',
    'train_labels': 'train-labels-idx1-ubyte.gz',
    'test_images': 't10k-images-idx3-ubyte.gz',
    'test_labels': 't10k-labels-idx1-ubyte.gz',
}
# Of the files Keras downloads and Debian ships (the same bytes).
SHA256 = {
    'train-images-idx3-ubyte.gz':
        'b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7',
    'train-labels-idx1-ubyte.gz':
        '0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056',
    't10k-images-idx3-ubyte.gz':
        'cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa',
    't10k-labels-idx1-ubyte.gz':
        '8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05',
}
COUNTS = {'train': 60000, 'test': 10000}
CLASSES = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal',
           'Shirt', 'Sneaker', 'Bag', 'Ankle boot')
IMAGE_SHAPE = (28, 28)

ROUTES = ('explicit', 'keras_cache', 'system', 'debian_package',
          'keras_download')
ENV_DIR = 'GN_FASHION_MNIST_FILES'
SYSTEM_DIR = '/usr/share/datasets/fashion-mnist'
PACKAGE_DIR = 'usr/share/datasets/fashion-mnist'  # Inside the .deb.
DEBIAN_PACKAGE = 'dataset-fashion-mnist'
_KERAS_URL = 'https://storage.googleapis.com/tensorflow/tf-keras-datasets/'


class NotFoundError(FileNotFoundError):
  """No route gave the four files with their recorded hashes."""


def keras_cache_dir() -> str:
  """Where Keras keeps Fashion-MNIST ($KERAS_HOME or ~/.keras, datasets/)."""
  home = os.environ.get('KERAS_HOME',
                        os.path.join(os.path.expanduser('~'), '.keras'))
  return os.path.join(home, 'datasets', 'fashion-mnist')


def debian_cache_dir() -> str:
  """Where the Debian route puts them: ~/.cache/gn_keras/fashion_mnist_files."""
  return os.path.join(os.path.expanduser('~'), '.cache', 'gn_keras',
                      'fashion_mnist_files')


def sha256(path: str) -> str:
  """The file's SHA-256, hex."""
  digest = hashlib.sha256()
  with open(path, 'rb') as f:
    for chunk in iter(lambda: f.read(1 << 20), b''):
      digest.update(chunk)
  return digest.hexdigest()


def check_folder(folder: str, hashes: Dict[str, str]) -> Optional[str]:
  """None if `folder` holds the four files with `hashes`, else what is wrong."""
  missing = [name for name in hashes
             if not os.path.isfile(os.path.join(folder, name))]
  if missing:
    return f'{folder} lacks {", ".join(missing)}'
  wrong = [name for name, digest in hashes.items()
           if sha256(os.path.join(folder, name)) != digest]
  if wrong:
    return f'{folder}: SHA-256 differs from the recorded one for ' + ', '.join(
        wrong)
  return None


def _fetch_debian_package(hashes: Dict[str, str]) -> Tuple[Optional[str], str]:
  """`apt-get download` + `dpkg-deb -x` into `debian_cache_dir()`."""
  target = debian_cache_dir()
  if check_folder(target, hashes) is None:  # Fetched on an earlier run.
    return target, 'already fetched'
  tools = [t for t in ('apt-get', 'dpkg-deb') if shutil.which(t) is None]
  if tools:
    return None, f'{" and ".join(tools)} not found'
  os.makedirs(os.path.dirname(target), exist_ok=True)
  work = tempfile.mkdtemp(dir=os.path.dirname(target), prefix='.fetch-')
  try:
    subprocess.run(['apt-get', 'download', DEBIAN_PACKAGE], cwd=work,
                   check=True, capture_output=True, text=True, timeout=600)
    debs = [f for f in os.listdir(work) if f.endswith('.deb')]
    if not debs:
      return None, 'apt-get download wrote no .deb'
    unpacked = os.path.join(work, 'root')
    subprocess.run(['dpkg-deb', '-x', os.path.join(work, debs[0]), unpacked],
                   check=True, capture_output=True, text=True, timeout=600)
    found = os.path.join(unpacked, PACKAGE_DIR)
    problem = check_folder(found, hashes)
    if problem:
      return None, f'the package\'s files: {problem}'
    staged = os.path.join(work, 'files')
    os.makedirs(staged)
    for name in hashes:
      shutil.move(os.path.join(found, name), os.path.join(staged, name))
    if os.path.isdir(target):  # Incomplete or corrupt: replaced whole.
      shutil.rmtree(target)
    os.replace(staged, target)
    return target, f'fetched {debs[0]}'
  except (OSError, subprocess.SubprocessError) as e:
    detail = (getattr(e, 'stderr', None) or str(e)).strip()
    return None, f'failed: {detail.splitlines()[-1] if detail else repr(e)}'
  finally:
    shutil.rmtree(work, ignore_errors=True)


def _keras_download(hashes: Dict[str, str]) -> Tuple[Optional[str], str]:
  """Keras' own download into its cache (needs the internet)."""
  try:
    from keras import utils  # noqa: PLC0415
    for name in hashes:
      utils.get_file(name, origin=_KERAS_URL + name,
                     cache_subdir=os.path.join('datasets', 'fashion-mnist'))
  except Exception as e:
    # get_file raises bare Exceptions for network errors.
    reason = str(e).strip().splitlines()[0] if str(e).strip() else repr(e)
    return None, f'failed: {reason}'
  return keras_cache_dir(), 'downloaded'


def _route_folder(route: str, data_dir: Optional[str],
                  hashes: Dict[str, str]) -> Tuple[Optional[str], str]:
  """(folder to check or None, what the route did)."""
  if route == 'explicit':
    folder = data_dir or os.environ.get(ENV_DIR)
    return folder, (f'given: {folder}' if folder else
                    f'no folder given (--fashion_mnist_dir, ${ENV_DIR})')
  if route == 'keras_cache':
    return keras_cache_dir(), ''
  if route == 'system':
    return SYSTEM_DIR, ''
  if route == 'debian_package':
    return _fetch_debian_package(hashes)
  if route == 'keras_download':
    return _keras_download(hashes)
  raise ValueError(f'Unknown route {route!r}; known: {ROUTES}.')


def find_files(data_dir: Optional[str] = None,
               routes: Sequence[str] = ROUTES,
               hashes: Optional[Dict[str, str]] = None,
               log: Callable[[str], None] = print) -> Tuple[str, str]:
  """The folder holding the four files, and the route that found it.

  Args:
    data_dir: An explicit folder (the `explicit` route); else
      `$GN_FASHION_MNIST_FILES`.
    routes: The routes to try, in order (see the module's doc).
    hashes: {file name: SHA-256}; defaults to `SHA256`.
    log: Receives one line naming the route taken.

  Returns:
    (folder, route).

  Raises:
    NotFoundError: no route gave them; the message names the four files and
      what each route found.
  """
  hashes = SHA256 if hashes is None else hashes
  tried = []
  for route in routes:
    folder, detail = _route_folder(route, data_dir, hashes)
    problem = check_folder(folder, hashes) if folder else detail
    if problem is None:
      log(f'Fashion-MNIST: route {route!r}, {folder}'
          + (f' ({detail})' if detail else ''))
      return folder, route
    tried.append(f'  {route}: {problem}')
  raise NotFoundError(
      'Fashion-MNIST not found. Its four files (' + ', '.join(hashes) +
      ') were looked for along these routes:\n' + '\n'.join(tried) +
      f'\nGive a folder holding them with --fashion_mnist_dir or ${ENV_DIR}, '
      f'run `keras.datasets.fashion_mnist.load_data()` once on a machine with '
      f'internet, or install Debian\'s package {DEBIAN_PACKAGE}.')


def read_idx(path: str) -> np.ndarray:
  """A gzipped IDX file of unsigned bytes as a NumPy array.

  Raises:
    ValueError: for a file that is not such an IDX file.
  """
  with gzip.open(path, 'rb') as f:
    data = f.read()
  if len(data) < 4 or data[:2] != b'\0\0' or data[2] != 0x08:
    raise ValueError(f'{path} is not an IDX file of unsigned bytes.')
  ndim = data[3]
  dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big')
          for i in range(ndim)]
  offset = 4 + 4 * ndim
  if len(data) - offset != int(np.prod(dims)):
    raise ValueError(f'{path}: {len(data) - offset} bytes of data for shape '
                     f'{dims}.')
  return np.frombuffer(data, np.uint8, offset=offset).reshape(dims)


def load(data_dir: Optional[str] = None, routes: Sequence[str] = ROUTES,
         hashes: Optional[Dict[str, str]] = None,
         counts: Optional[Dict[str, int]] = None,
         log: Callable[[str], None] = print
         ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
  """(x_train, y_train, x_test, y_test): uint8 [N, 28, 28] and labels [N].

  Args:
    data_dir: As for `find_files`.
    routes: As for `find_files`.
    hashes: As for `find_files`.
    log: As for `find_files`.
    counts: {'train': n, 'test': n}; defaults to `COUNTS`.

  Raises:
    NotFoundError: see `find_files`.
    ValueError: the files hold other counts, shapes or labels than
      Fashion-MNIST's.
  """
  counts = COUNTS if counts is None else counts
  folder, _ = find_files(data_dir, routes, hashes, log)
  arrays = {key: read_idx(os.path.join(folder, name))
            for key, name in FILES.items()}
  for split in ('train', 'test'):
    images, labels = arrays[f'{split}_images'], arrays[f'{split}_labels']
    if images.shape != (counts[split],) + IMAGE_SHAPE:
      raise ValueError(f'{folder}: {split} images of shape {images.shape}, '
                       f'expected {(counts[split],) + IMAGE_SHAPE}.')
    if labels.shape != (counts[split],) or labels.max() >= len(CLASSES):
      raise ValueError(f'{folder}: {split} labels of shape {labels.shape} '
                       f'and maximum {labels.max()}, expected '
                       f'{(counts[split],)} in 0..{len(CLASSES) - 1}.')
  return (arrays['train_images'], arrays['train_labels'],
          arrays['test_images'], arrays['test_labels'])
