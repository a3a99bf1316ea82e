"""The wheel ships gn_keras and, under `official`, only our project."""

import pathlib
import subprocess
import sys
import zipfile

import pytest

REPO = pathlib.Path(__file__).parents[1]


@pytest.mark.slow
def test_wheel_holds_gn_keras_and_only_official_projects_group_norm(tmp_path):
  subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--quiet', '--no-deps',
                  '--no-build-isolation', '--wheel-dir', str(tmp_path),
                  str(REPO)], check=True, capture_output=True)
  wheel, = tmp_path.glob('gn_keras-*.whl')
  names = [n for n in zipfile.ZipFile(wheel).namelist()
           if '.dist-info/' not in n]
  assert 'gn_keras/ops.py' in names
  assert 'official/projects/group_norm/train.py' in names
  outside = [n for n in names if not n.startswith(
      ('gn_keras/', 'official/projects/group_norm/'))]
  assert not outside, outside  # Never Model Garden's official/__init__.py.
