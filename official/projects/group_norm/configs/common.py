"""What the project's config modules share: data folders, schedules, lookup."""

import os
from typing import List

from official.core import config_definitions as cfg
from official.core import exp_factory
from official.modeling import optimization
from official.vision.configs import common as mg_common

_PROJECT_PACKAGE = 'official.projects.group_norm'


def default_data_dir(name: str) -> str:
  """Where an experiment makes its data: ~/.cache/gn_keras/<name>.

  $GN_<NAME>_DIR overrides it (e.g. $GN_DIGITS_DIR, $GN_SHAPES_DIR).
  """
  return os.environ.get(
      f'GN_{name.upper()}_DIR',
      os.path.join(os.path.expanduser('~'), '.cache', 'gn_keras', name))


def norm_activation() -> mg_common.NormActivation:
  """The norms' epsilon and momentum for every project model.

  Epsilon 1e-5 (the paper's code uses it) and a momentum of 0.9 for the BN
  kinds' moving statistics (Keras' convention; PyTorch would say 0.1).
  `use_sync_bn` stays off: the norm's kind comes from the norm factory
  (`'sync_batch_norm'`).
  """
  return mg_common.NormActivation(norm_momentum=0.9, norm_epsilon=1e-5,
                                  use_sync_bn=False)


def sgd_stepwise(base_lr: float, boundaries, warmup_steps: int,
                 warmup_factor: float = 0.0, nesterov: bool = False
                 ) -> optimization.OptimizationConfig:
  """SGD with momentum 0.9 and a stepwise learning rate.

  The learning rate is divided by 10 at each boundary, after a linear
  warm-up from `base_lr * warmup_factor` (none for `warmup_steps=0`).
  """
  warmup = ({'type': 'linear', 'linear': {
      'warmup_steps': warmup_steps,
      'warmup_learning_rate': base_lr * warmup_factor}}
            if warmup_steps else {'type': None})
  return optimization.OptimizationConfig({
      'optimizer': {'type': 'sgd', 'sgd': {'momentum': 0.9,
                                           'nesterov': nesterov}},
      'learning_rate': {
          'type': 'stepwise',
          'stepwise': {
              'boundaries': boundaries,
              'values': [base_lr * 0.1**i for i in range(len(boundaries) + 1)],
          },
      },
      'warmup': warmup,
  })


def project_experiments() -> List[str]:
  """The names of the registered experiments that this project defines."""
  return sorted(
      name for name, factory in exp_factory._REGISTERED_CONFIGS.items()  # noqa: SLF001 (the registry has no public listing)
      if getattr(factory, '__module__', '').startswith(_PROJECT_PACKAGE))


def get_exp_config(name: str) -> cfg.ExperimentConfig:
  """`exp_factory.get_exp_config`, with an error that lists the choices.

  Raises:
    ValueError: for a name no module has registered.
  """
  try:
    return exp_factory.get_exp_config(name)
  except LookupError:
    raise ValueError(
        f'Unknown experiment {name!r}. This project registers '
        f'{project_experiments()} (besides Model Garden\'s own).') from None


def small_experiment(task, trainer) -> cfg.ExperimentConfig:
  """A small recipe's experiment: task and trainer on MirroredStrategy.

  (`--cpu_replicas` here), with Model Garden's restriction that both splits
  say `is_training`.
  """
  return cfg.ExperimentConfig(
      runtime=cfg.RuntimeConfig(distribution_strategy='mirrored'),
      task=task, trainer=trainer,
      restrictions=['task.train_data.is_training != None',
                    'task.validation_data.is_training != None'])
