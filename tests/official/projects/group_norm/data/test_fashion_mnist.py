"""Finding Fashion-MNIST's four files along the routes, and reading them."""

import gzip
import os
import stat

import numpy as np
import pytest

from official.projects.group_norm.data import fashion_mnist
from tests.official.projects.group_norm.data import fashion_idx


@pytest.fixture(name='home')
def _home(tmp_path, monkeypatch):
  """An empty home, Keras home and system folder: no route finds anything."""
  home = tmp_path / 'home'
  home.mkdir()
  monkeypatch.setenv('HOME', str(home))
  monkeypatch.delenv('KERAS_HOME', raising=False)
  monkeypatch.delenv(fashion_mnist.ENV_DIR, raising=False)
  monkeypatch.setattr(fashion_mnist, 'SYSTEM_DIR', str(tmp_path / 'system'))
  return home


def _fake_tools(folder, monkeypatch, files_from=None, apt_fails=False):
  """`apt-get` and `dpkg-deb` stand-ins first on PATH.

  apt-get writes a .deb in its working folder (or fails, exit 100);
  dpkg-deb -x DEB DIR copies `files_from` to DIR/usr/share/datasets/....
  """
  os.makedirs(folder, exist_ok=True)
  scripts = {
      'apt-get': ('echo "E: Unable to locate package" >&2; exit 100'
                  if apt_fails else 'touch dataset-fashion-mnist_1_all.deb'),
      'dpkg-deb': (f'mkdir -p "$3/usr/share/datasets/fashion-mnist" && '
                   f'cp {files_from}/* "$3/usr/share/datasets/fashion-mnist/"'),
  }
  for name, body in scripts.items():
    path = os.path.join(folder, name)
    with open(path, 'w') as f:
      f.write(f'#!/bin/sh\n{body}\n')
    os.chmod(path, os.stat(path).st_mode | stat.S_IEXEC)
  monkeypatch.setenv('PATH', f'{folder}:{os.environ["PATH"]}')


def test_explicit_folder_and_environment_come_first(home, tmp_path,
                                                    monkeypatch):
  given = str(tmp_path / 'given')
  hashes = fashion_idx.write_files(given)
  fashion_idx.write_files(str(home / '.keras/datasets/fashion-mnist'))
  lines = []
  assert fashion_mnist.find_files(given, hashes=hashes, log=lines.append) == (
      given, 'explicit')
  assert lines == [f"Fashion-MNIST: route 'explicit', {given} (given: "
                   f'{given})']
  monkeypatch.setenv(fashion_mnist.ENV_DIR, given)
  assert fashion_mnist.find_files(hashes=hashes, log=print)[1] == 'explicit'


def test_keras_cache_then_system_folder(home, tmp_path, monkeypatch):
  system = fashion_mnist.SYSTEM_DIR
  hashes = fashion_idx.write_files(system)
  assert fashion_mnist.find_files(hashes=hashes, log=print) == (system,
                                                                'system')
  keras_home = str(tmp_path / 'keras_home')
  monkeypatch.setenv('KERAS_HOME', keras_home)
  fashion_idx.write_files(os.path.join(keras_home, 'datasets',
                                       'fashion-mnist'))
  assert fashion_mnist.find_files(hashes=hashes, log=print)[1] == (
      'keras_cache')


def test_debian_package_is_fetched_into_the_cache_once(home, tmp_path,
                                                       monkeypatch):
  source = str(tmp_path / 'package_files')
  hashes = fashion_idx.write_files(source)
  _fake_tools(str(tmp_path / 'bin'), monkeypatch, files_from=source)
  lines = []
  folder, route = fashion_mnist.find_files(
      routes=fashion_mnist.ROUTES[:4], hashes=hashes, log=lines.append)
  assert (folder, route) == (fashion_mnist.debian_cache_dir(),
                             'debian_package')
  assert 'fetched dataset-fashion-mnist_1_all.deb' in lines[0]
  assert sorted(os.listdir(folder)) == sorted(hashes)
  # Nothing else is left in the cache: the unpacked package is gone.
  assert os.listdir(os.path.dirname(folder)) == [os.path.basename(folder)]
  _fake_tools(str(tmp_path / 'bin'), monkeypatch, apt_fails=True)
  lines.clear()
  fashion_mnist.find_files(hashes=hashes, log=lines.append)
  assert lines[0].endswith('(already fetched)')


def test_keras_download_is_the_last_route(home, tmp_path, monkeypatch):
  source = str(tmp_path / 'server')
  hashes = fashion_idx.write_files(source)
  monkeypatch.setenv('PATH', str(tmp_path / 'no_tools'))  # No apt-get.

  def get_file(fname, origin, cache_subdir):
    assert origin.endswith(fname)
    target = os.path.join(str(home), '.keras', cache_subdir)
    os.makedirs(target, exist_ok=True)
    with open(os.path.join(source, fname), 'rb') as f, open(
        os.path.join(target, fname), 'wb') as g:
      g.write(f.read())
  import keras  # noqa: PLC0415
  monkeypatch.setattr(keras.utils, 'get_file', get_file)
  assert fashion_mnist.find_files(hashes=hashes, log=print) == (
      fashion_mnist.keras_cache_dir(), 'keras_download')


def test_every_route_failing_names_the_files_and_the_routes(
    home, tmp_path, monkeypatch):
  hashes = fashion_idx.write_files(str(tmp_path / 'elsewhere'))
  corrupt = fashion_mnist.SYSTEM_DIR
  fashion_idx.write_files(corrupt, seed=1)  # Other bytes: other hashes.
  _fake_tools(str(tmp_path / 'bin'), monkeypatch, apt_fails=True)
  import keras  # noqa: PLC0415

  def no_network(*args, **kwargs):
    raise Exception('URL fetch failure: no network')
  monkeypatch.setattr(keras.utils, 'get_file', no_network)
  with pytest.raises(fashion_mnist.NotFoundError) as error:
    fashion_mnist.find_files(hashes=hashes, log=print)
  message = str(error.value)
  for name in fashion_mnist.FILES.values():
    assert name in message
  assert 'explicit: no folder given' in message
  assert f'keras_cache: {fashion_mnist.keras_cache_dir()} lacks' in message
  assert 'system: ' + corrupt + ': SHA-256 differs' in message
  assert 'debian_package: failed: E: Unable to locate package' in message
  assert 'keras_download: failed: URL fetch failure' in message
  # Nothing half-written: the failed fetch left no folder behind.
  cache = os.path.dirname(fashion_mnist.debian_cache_dir())
  assert not os.path.exists(cache) or not os.listdir(cache)


def test_load_checks_counts_shapes_and_labels(tmp_path):
  folder = str(tmp_path / 'files')
  hashes = fashion_idx.write_files(folder)
  x, y, xt, yt = fashion_mnist.load(folder, routes=['explicit'],
                                    hashes=hashes, counts=fashion_idx.COUNTS,
                                    log=print)
  assert x.shape == (30, 28, 28) and xt.shape == (10, 28, 28)
  assert x.dtype == np.uint8 and list(np.bincount(y)) == [3] * 10
  assert list(yt) == list(range(10))
  with pytest.raises(ValueError, match=r'train images of shape \(30, 28, 28\)'
                     r', expected \(60000, 28, 28\)'):
    fashion_mnist.load(folder, routes=['explicit'], hashes=hashes, log=print)
  labels = os.path.join(folder, fashion_mnist.FILES['test_labels'])
  with gzip.open(labels, 'wb') as f:
    f.write(fashion_idx.idx_bytes(np.full(10, 12, np.uint8)))
  hashes[os.path.basename(labels)] = fashion_mnist.sha256(labels)
  with pytest.raises(ValueError, match='maximum 12, expected'):
    fashion_mnist.load(folder, routes=['explicit'], hashes=hashes,
                       counts=fashion_idx.COUNTS, log=print)


def test_read_idx_refuses_other_files(tmp_path):
  path = str(tmp_path / 'bad.gz')
  with gzip.open(path, 'wb') as f:
    f.write(b'\0\0\x0d\x01\0\0\0\x02ab')  # Float32 type code.
  with pytest.raises(ValueError, match='not an IDX file of unsigned bytes'):
    fashion_mnist.read_idx(path)
  with gzip.open(path, 'wb') as f:
    f.write(b'\0\0\x08\x01\0\0\0\x05ab')  # 2 bytes for 5.
  with pytest.raises(ValueError, match=r'2 bytes of data for shape \[5\]'):
    fashion_mnist.read_idx(path)


def test_recorded_hashes_are_the_published_files():
  assert sorted(fashion_mnist.SHA256) == sorted(fashion_mnist.FILES.values())
  assert all(len(h) == 64 for h in fashion_mnist.SHA256.values())
