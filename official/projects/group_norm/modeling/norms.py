"""One norm factory: a name or a callable -> a tf_keras norm-layer constructor.

Every backbone, decoder and head in this project builds its norm layers through
`get_norm`, so a block never branches on the norm type. The constructor that
comes back accepts BatchNormalization's keyword arguments (`axis`, `momentum`,
`epsilon`, `trainable`, `name`, `synchronized`, initializers and regularizers
of gamma/beta); a norm that has no use for one (GN has no moving statistics)
ignores it.

  norm = get_norm('group_norm', groups=32)
  x = norm(axis=-1, momentum=0.9, epsilon=1e-5, name='bn1')(x)
"""

import functools
from typing import Callable, Union

import tf_keras

from gn_keras.tf_keras import GroupNormalization

NormConstructor = Callable[..., tf_keras.layers.Layer]

# BatchNormalization's keyword arguments that group-style norms also take.
_SHARED_KWARGS = ('axis', 'epsilon', 'center', 'scale', 'trainable', 'name',
                  'beta_initializer', 'gamma_initializer', 'beta_regularizer',
                  'gamma_regularizer', 'beta_constraint', 'gamma_constraint',
                  'dtype')


def _batch_norm(synchronized: bool, frozen: bool = False, **unused_config):
  def make(**kwargs):
    kwargs['synchronized'] = synchronized
    if frozen:
      kwargs['trainable'] = False
    return tf_keras.layers.BatchNormalization(**kwargs)
  return make


def _group_norm(groups: int, epsilon=None, **unused_config):
  def make(**kwargs):
    kwargs = {k: v for k, v in kwargs.items() if k in _SHARED_KWARGS}
    if epsilon is not None:
      kwargs['epsilon'] = epsilon
    return GroupNormalization(groups=groups, **kwargs)
  return make


_NORMS = {
    'batch_norm': functools.partial(_batch_norm, synchronized=False),
    'sync_batch_norm': functools.partial(_batch_norm, synchronized=True),
    # BN whose gamma/beta and statistics never train (detectron's FrozenBN).
    'frozen_batch_norm': functools.partial(_batch_norm, synchronized=False,
                                           frozen=True),
    'group_norm': _group_norm,
    # GN's two limits: one group is layer norm, one channel per group is
    # instance norm.
    'layer_norm': lambda **config: _group_norm(**{**config, 'groups': 1}),
    'instance_norm': lambda **config: _group_norm(**{**config, 'groups': -1}),
}
NORM_NAMES = tuple(_NORMS)


def get_norm(norm: Union[str, NormConstructor],
             groups: int = 32,
             epsilon: float = None) -> NormConstructor:
  """Returns a constructor of norm layers that takes BN's keyword arguments.

  Args:
    norm: One of `NORM_NAMES` ('batch_norm', 'sync_batch_norm',
      'frozen_batch_norm', 'group_norm', 'layer_norm', 'instance_norm'), or a
      callable returned as it is.
    groups: Number of groups for 'group_norm'. Defaults to 32.
    epsilon: If set, overrides the `epsilon` the caller passes to group-style
      norms (GN's 1e-5 need not be BN's). Defaults to None.

  Returns:
    A callable `(**batch_norm_kwargs) -> tf_keras.layers.Layer`.

  Raises:
    ValueError: for an unknown name; the message lists the known ones.
  """
  if callable(norm):
    return norm
  if norm not in _NORMS:
    raise ValueError(f'Unknown norm {norm!r}; known norms: '
                     f'{", ".join(NORM_NAMES)} (or pass a callable).')
  return _NORMS[norm](groups=groups, epsilon=epsilon)


def is_batch_norm(norm: Union[str, NormConstructor]) -> bool:
  """Whether `norm` names one of the BatchNormalization variants."""
  return isinstance(norm, str) and norm.endswith('batch_norm')


def norm_layer_kinds(layer) -> set:
  """Class names of the norm layers in `layer` (a layer, model or list)."""
  parts = layer if isinstance(layer, (list, tuple)) else [layer]
  return {type(module).__name__
          for part in parts for module in [part, *part.submodules]
          if isinstance(module, tf_keras.layers.Layer)
          and type(module).__name__.endswith('Normalization')}


def check_norms(layer, norm: Union[str, NormConstructor, None],
                what: str = 'model') -> None:
  """Raises unless `layer`'s norm layers are all, and only, of kind `norm`.

  A GN config must never silently give a BN model (or the reverse), e.g.
  through a stale registry or a builder that ignores the setting.

  Args:
    layer: A layer or model, or a list of them.
    norm: A norm-factory name, or None for "no norm layer at all". A callable
      is not checked.
    what: The part's name, for the message.

  Raises:
    ValueError: naming the part, its norm and the layers it holds.
  """
  if callable(norm):
    return
  kinds = norm_layer_kinds(layer)
  if norm is None:
    expected = set()
  elif is_batch_norm(norm):
    expected = {'BatchNormalization'}
  else:
    expected = {'GroupNormalization'}
  if kinds != expected:
    raise ValueError(f'The {what} built for norm {norm!r} contains '
                     f'{sorted(kinds)}.')
