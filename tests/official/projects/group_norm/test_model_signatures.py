"""Every registered experiment's config and model stay exactly as recorded.

The recorded signatures (tests/fixtures/model_signatures.json) are each
experiment's config dump, its model's variable names, shapes and parameter
count, and the keys of its object-based checkpoint (attribute paths), plus
the committed YAML variants (BN, frozen BN, the norm-free FPN of BN*) and
weight standardization. A refactor of the modeling
code must leave all of them alone: checkpoints, configs and override paths
keep working. After a deliberate change, regenerate and commit the file:

  python -m tests.official.projects.group_norm.test_model_signatures
"""

import glob
import hashlib
import json
import os
import re
import tempfile

import pytest
import tensorflow as tf
import tf_keras

from official.core import exp_factory
from official.core import task_factory
from official.modeling import hyperparams
from official.projects.group_norm import registry_imports  # noqa: F401
from official.projects.group_norm.configs import common

pytestmark = pytest.mark.slow

ROOT = os.path.join(os.path.dirname(__file__), *[os.pardir] * 4)
RECORD = os.path.normpath(
    os.path.join(ROOT, 'tests', 'fixtures', 'model_signatures.json'))
YAMLS = os.path.join(ROOT, 'official', 'projects', 'group_norm', 'configs',
                     'experiments', '*.yaml')
OVERRIDES = {
    'resnet_gn_digits+ws': (
        'resnet_gn_digits',
        'task.model.backbone.resnet_gn.weight_standardization=true'),
}


def _cases():
  """{case name: (experiment, YAML path or None, override or None)}."""
  cases = {name: (name, None, None) for name in common.project_experiments()}
  for path in sorted(glob.glob(YAMLS)):
    with open(path) as f:
      experiment = re.search(r'--experiment=(\w+)', f.read()).group(1)
    cases[os.path.basename(path)] = (experiment, path, None)
  for name, (experiment, override) in OVERRIDES.items():
    cases[name] = (experiment, None, override)
  return cases


def _sha256(text):
  return hashlib.sha256(text.encode()).hexdigest()


def signature(experiment, yaml_path=None, override=None):
  """A config's dump and its model's variables, as hashes and counts."""
  params = exp_factory.get_exp_config(experiment)
  if yaml_path:
    params = hyperparams.override_params_dict(params, yaml_path,
                                              is_strict=True)
  if override:
    params = hyperparams.override_params_dict(params, override,
                                              is_strict=True)
  # Fresh Keras names: layers the process built before must not shift the
  # automatic ones (`..._1`).
  tf_keras.backend.clear_session()
  model = task_factory.get_task(params.task).build_model()
  variables = sorted(f'{v.name} {v.shape}' for v in model.variables)
  with tempfile.TemporaryDirectory() as folder:
    path = tf.train.Checkpoint(model=model).write(os.path.join(folder, 'c'))
    keys = sorted(name for name, _ in tf.train.list_variables(path))
  tf_keras.backend.clear_session()
  return {
      'config_sha256': _sha256(json.dumps(params.as_dict(), sort_keys=True,
                                          default=str)),
      'variables_sha256': _sha256('\n'.join(variables)),
      'checkpoint_keys_sha256': _sha256('\n'.join(keys)),
      'variables': len(variables),
      'parameters': int(sum(v.shape.num_elements() for v in model.variables)),
  }


def _recorded():
  with open(RECORD) as f:
    return json.load(f)


def test_every_case_is_recorded():
  assert sorted(_recorded()) == sorted(_cases())


@pytest.mark.parametrize('case', sorted(_cases()))
def test_config_and_model_are_as_recorded(case):
  assert signature(*_cases()[case]) == _recorded()[case]


if __name__ == '__main__':
  with open(RECORD, 'w') as f:
    json.dump({case: signature(*args) for case, args in _cases().items()}, f,
              indent=1, sort_keys=True)
    f.write('\n')
  print(f'Wrote {RECORD}')
