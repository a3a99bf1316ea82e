"""Imports every module that registers something, in one place.

Model Garden's registries (experiments, tasks, backbones) fill when modules
are imported; train.py, export_saved_model.py and tests import this.
"""

# pylint: disable=unused-import
from official.projects.group_norm.configs import image_classification as _cls_configs
from official.projects.group_norm.configs import maskrcnn as _maskrcnn_configs
from official.projects.group_norm.modeling import fpn_gn as _fpn_gn
from official.projects.group_norm.modeling import resnet_gn as _resnet_gn
from official.projects.group_norm.tasks import image_classification as _cls_task
from official.projects.group_norm.tasks import maskrcnn as _maskrcnn_task
from official.vision import registry_imports as _vision_registry

from official.core import config_definitions as _cfg  # pylint: disable=g-bad-import-order
from official.core import exp_factory as _exp_factory


def project_experiments() -> list:
  """The names of the experiments this project registers."""
  return sorted(
      name for name, factory in _exp_factory._REGISTERED_CONFIGS.items()  # pylint: disable=protected-access
      if getattr(factory, '__module__', '').startswith(
          'official.projects.group_norm'))


def get_exp_config(name: str) -> _cfg.ExperimentConfig:
  """`exp_factory.get_exp_config`, with an error that lists the choices."""
  try:
    return _exp_factory.get_exp_config(name)
  except LookupError:
    raise ValueError(
        f'Unknown experiment {name!r}. This project registers '
        f'{project_experiments()} (besides Model Garden\'s own).') from None
