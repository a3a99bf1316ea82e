"""Our `official` overlay and Model Garden's package work in one process."""

import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).parents[4]
IMPORTS = ('import official.vision, official.projects.group_norm as p; '
           'print(official.vision.__file__); print(p.__file__)')


def _run(cwd):
  env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
  out = subprocess.run([sys.executable, '-c', IMPORTS], cwd=cwd, env=env,
                       capture_output=True, text=True, check=True).stdout
  vision, ours = out.split()
  assert 'site-packages' in vision  # Model Garden's, not shadowed.
  assert pathlib.Path(ours).resolve() == (
      REPO / 'official/projects/group_norm/__init__.py').resolve()


@pytest.mark.slow
def test_from_the_repo_root():
  _run(REPO)


@pytest.mark.slow
def test_from_another_directory_after_install(tmp_path):
  _run(tmp_path)  # Found through `pip install -e .`, not the working dir.


def test_overlay_init_files_only_extend_the_path():
  for init in ('official/__init__.py', 'official/projects/__init__.py'):
    code = [line.split('#')[0].rstrip()
            for line in (REPO / init).read_text().splitlines()
            if line.strip() and not line.startswith('#')]
    assert code == ['from pkgutil import extend_path',
                    '__path__ = extend_path(__path__, __name__)']
