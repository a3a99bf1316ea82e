"""One norm factory: a name or a callable -> a tf_keras norm-layer constructor.

Every backbone, decoder and head in this project builds its norm layers through
`get_norm`, so a block never branches on the norm type. The constructor that
comes back accepts BatchNormalization's keyword arguments (`axis`, `momentum`,
`epsilon`, `trainable`, `name`, initializers and regularizers of gamma/beta);
a norm that has no use for one (GN has no moving statistics) ignores it.

  make_norm = get_norm('group_norm', groups=32)
  x = make_norm(axis=-1, momentum=0.9, epsilon=1e-5, name='bn1')(x)

A model part holds one `NormSpec` (kind, groups or group size, epsilon,
momentum), assembled once from its config (`NormSpec.of_part`); its layers
come from `spec.layer(name)`, through `conv_norm_act`.

`NORMS` is the single source of truth: each kind's row holds how to build it
and the layer class(es) it builds, which is what `check_norms` expects to find.
Adding a kind is adding a row. `get_norm(None)` is "no norm" (None), as
detectron2's `get_norm` and timm's `get_norm_layer` have it.
"""

import collections
import dataclasses
from typing import Any, Callable, Dict, Optional, Set, Tuple, Union

import tf_keras

from gn_keras import ops
from gn_keras.tf_keras import GroupNormalization
from official.modeling import hyperparams

NormConstructor = Callable[..., tf_keras.layers.Layer]
# A norm as configs name it: a factory name, a constructor, or None (no norm).
Norm = Union[str, NormConstructor, None]

# BatchNormalization's keyword arguments that group-style norms also take.
_SHARED_KWARGS = ('axis', 'epsilon', 'center', 'scale', 'trainable', 'name',
                  'beta_initializer', 'gamma_initializer', 'beta_regularizer',
                  'gamma_regularizer', 'beta_constraint', 'gamma_constraint',
                  'dtype')


@dataclasses.dataclass(frozen=True)
class NormKind:
  """One row of the norm table.

  Attributes:
    make: `(groups, group_size) -> constructor`; kinds that have no groups
      ignore both.
    layer_classes: The class(es) of the layers the constructor builds.
  """
  make: Callable[[Optional[int], Optional[int]], NormConstructor]
  layer_classes: Tuple[type, ...]


def _batch_norm(**fixed) -> Callable[..., NormConstructor]:
  """BN with some arguments fixed (e.g. `synchronized`, `trainable`)."""
  def make(groups, group_size):
    del groups, group_size  # BN has no groups.
    return lambda **kwargs: tf_keras.layers.BatchNormalization(
        **{**kwargs, **fixed})
  return make


def _group_norm(fixed_groups: Optional[int] = None
               ) -> Callable[..., NormConstructor]:
  """GN from `groups` or `group_size`, or with a fixed group count."""
  def make(groups, group_size):
    if fixed_groups is not None:
      groups, group_size = fixed_groups, None
    ops.check_group_args(groups, group_size)  # The layer's own messages.

    def construct(**kwargs):
      kwargs = {k: v for k, v in kwargs.items() if k in _SHARED_KWARGS}
      return GroupNormalization(groups=groups, group_size=group_size,
                                **kwargs)
    return construct
  return make


_BN = (tf_keras.layers.BatchNormalization,)
_GN = (GroupNormalization,)
NORMS: Dict[str, NormKind] = {
    'batch_norm': NormKind(_batch_norm(synchronized=False), _BN),
    # Statistics over every replica in sync.
    'sync_batch_norm': NormKind(_batch_norm(synchronized=True), _BN),
    # BN whose gamma/beta and statistics never train (detectron's FrozenBN).
    'frozen_batch_norm': NormKind(
        _batch_norm(synchronized=False, trainable=False), _BN),
    # Batch Renormalization (Ioffe, 2017): training uses the moving
    # statistics, corrected within r in [1/1.5, 1.5] and d in [-0.5, 0.5].
    # tf_keras takes constant clipping only (the paper ramps r_max to 3 and
    # d_max to 5 over training).
    'batch_renorm': NormKind(
        _batch_norm(synchronized=False, renorm=True, renorm_clipping={
            'rmax': 1.5, 'rmin': 1 / 1.5, 'dmax': 0.5}), _BN),
    'group_norm': NormKind(_group_norm(), _GN),
    # GN's two limits: one group is layer norm, one channel per group is
    # instance norm. Their group count is fixed; `groups` is ignored.
    'layer_norm': NormKind(_group_norm(fixed_groups=1), _GN),
    'instance_norm': NormKind(_group_norm(fixed_groups=-1), _GN),
}
NORM_NAMES = tuple(NORMS)


def _kind(norm: str) -> NormKind:
  if norm not in NORMS:
    raise ValueError(f'Unknown norm {norm!r}; known norms: '
                     f'{", ".join(NORM_NAMES)} (or pass a callable, or None '
                     'for no norm).')
  return NORMS[norm]


def get_norm(norm: Norm,
             groups: Optional[int] = 32,
             group_size: Optional[int] = None) -> Optional[NormConstructor]:
  """Returns a constructor of norm layers that takes BN's keyword arguments.

  Epsilon and momentum are not set here: callers pass them to the constructor
  (from Model Garden's `norm_activation` config: see `norm_kwargs`).

  Args:
    norm: One of `NORM_NAMES` ('batch_norm', 'sync_batch_norm',
      'frozen_batch_norm', 'batch_renorm', 'group_norm', 'layer_norm',
      'instance_norm'); a
      callable, returned as it is; or None or '' for no norm.
    groups: Number of groups of 'group_norm' (-1: one channel per group).
      Defaults to 32. Set to None to use `group_size`.
    group_size: Channels per group of 'group_norm', the alternative to
      `groups` (exactly one of the two). Defaults to None.

  Returns:
    A callable `(**batch_norm_kwargs) -> tf_keras.layers.Layer`, or None for
    no norm.

  Raises:
    ValueError: for an unknown name (the message lists the known ones), or
      group settings the layer would refuse (its own message).
  """
  if norm is None or norm == '':
    return None
  if callable(norm):
    return norm
  return _kind(norm).make(groups, group_size)


@dataclasses.dataclass(frozen=True)
class NormSpec:
  """What one model part normalizes with, assembled once from its config.

  Serializable (`dataclasses.asdict`) when `kind` is a name or None. Every
  backbone, FPN and head takes its norm layers from one spec, through
  `conv_norm_act` (which owns the bias rule: a convolution has a bias only
  when `normalizes` is False).

  Attributes:
    kind: A norm-factory name (`NORM_NAMES`), a constructor, or None for no
      norm.
    groups: Groups of 'group_norm' (-1: one channel per group), or None to
      use `group_size`.
    group_size: Channels per group of 'group_norm', the alternative.
    epsilon: Added to the variance.
    momentum: Of the moving statistics (the BN kinds only).
  """
  kind: Norm = 'group_norm'
  groups: Optional[int] = 32
  group_size: Optional[int] = None
  epsilon: float = 1e-5
  momentum: float = 0.99

  def __post_init__(self):
    """Makes the constructor; unknown names and bad groups raise here."""
    object.__setattr__(self, '_make', get_norm(self.kind, self.groups,
                                               self.group_size))

  @classmethod
  def of_part(cls, part_config, norm_activation_config) -> 'NormSpec':
    """The spec of a part config (`norm`, `groups`, `group_size`).

    Epsilon and momentum come from the model's `norm_activation`
    (`norm_kwargs`, which refuses `use_sync_bn`).
    """
    shared = norm_kwargs(norm_activation_config)
    return cls(kind=part_config.norm, groups=part_config.groups,
               group_size=part_config.group_size, epsilon=shared['epsilon'],
               momentum=shared['momentum'])

  @property
  def normalizes(self) -> bool:
    """False for no norm (`kind` None)."""
    return self._make is not None

  def layer(self, name: Optional[str], zero_gamma: bool = False,
            regularizer=None) -> Optional[tf_keras.layers.Layer]:
    """A fresh norm layer (channels last), or None for no norm.

    Args:
      name: The layer's name.
      zero_gamma: gamma starts at 0 (a residual block's last norm).
      regularizer: Of gamma and beta; None: no weight decay on the norm.
    """
    if self._make is None:
      return None
    return self._make(
        axis=-1, momentum=self.momentum, epsilon=self.epsilon,
        gamma_initializer='zeros' if zero_gamma else 'ones',
        gamma_regularizer=regularizer, beta_regularizer=regularizer,
        name=name)

  def part_arguments(self) -> Dict[str, object]:
    """The norm arguments every part's constructor takes, from this spec."""
    return dict(norm=self.kind, groups=self.groups,
                group_size=self.group_size, norm_epsilon=self.epsilon,
                norm_momentum=self.momentum)


def norm_kwargs(norm_activation_config) -> Dict[str, float]:
  """`momentum` and `epsilon` for norm constructors, from `norm_activation`.

  Model Garden's `norm_activation` config is the one source of the norms'
  epsilon and momentum (and of the activation) for every part of a model.
  Its `use_sync_bn` cannot apply to the project's parts, whose synchronized
  BN is the norm name 'sync_batch_norm': it is refused, not ignored.

  Args:
    norm_activation_config: Model Garden's `common.NormActivation`.

  Returns:
    {'momentum': ..., 'epsilon': ...}.

  Raises:
    ValueError: if `use_sync_bn` is set.
  """
  if norm_activation_config.use_sync_bn:
    raise ValueError(
        'norm_activation.use_sync_bn=True does not apply to this project\'s '
        'backbones, decoders and heads: set their `norm` to '
        '\'sync_batch_norm\' instead, and use_sync_bn to false.')
  return {'momentum': norm_activation_config.norm_momentum,
          'epsilon': norm_activation_config.norm_epsilon}


def _is_norm_layer(module) -> bool:
  # Table classes, plus any other Keras norm (LayerNormalization, ...), so a
  # foreign norm in a part is reported, never overlooked.
  return isinstance(module, tf_keras.layers.Layer) and (
      isinstance(module, tuple(c for kind in NORMS.values()
                               for c in kind.layer_classes)) or
      type(module).__name__.endswith('Normalization'))


def count_norm_layers(layer) -> collections.Counter:
  """{class name: count} of the norm layers in a layer, model or list."""
  parts = layer if isinstance(layer, (list, tuple)) else [layer]
  modules = {id(m): m for part in parts for m in [part, *part.submodules]}
  return collections.Counter(type(m).__name__ for m in modules.values()
                             if _is_norm_layer(m))


def check_norms(layer, norm: Norm, what: str = 'model') -> None:
  """Raises unless `layer`'s norm layers are all, and only, of kind `norm`.

  A GN config must never silently give a BN model (or the reverse), e.g.
  through a stale registry or a builder that ignores the setting.

  Args:
    layer: A layer or model, or a list of them.
    norm: A norm-factory name, or None (or '') for "no norm layer at all". A
      callable is not checked.
    what: The part's name, for the message.

  Raises:
    ValueError: naming the part, its norm and the layers it holds.
  """
  if callable(norm):
    return
  expected = (set() if norm is None or norm == '' else
              {c.__name__ for c in _kind(norm).layer_classes})
  found = count_norm_layers(layer)
  if set(found) != expected:
    raise ValueError(f'The {what} built for norm {norm!r} contains '
                     f'{dict(sorted(found.items()))}; expected only '
                     f'{sorted(expected)}.')


# What a part without a `norm` setting (Model Garden's own backbones and
# decoders) holds.
MODEL_GARDEN_NORM = 'batch_norm'


def expected_part_norms(model_config) -> Dict[str, Norm]:
  """{part name: the norm its config names} for each part of a model config.

  A part is a one-of field (`backbone`, `decoder`, ...), read through its
  active choice, or a sub-config with a `norm` (the heads). An active choice
  without a `norm` field is one of Model Garden's own, expected to hold
  BatchNormalization. Unset one-ofs and absent sub-configs are skipped.
  """
  expected = {}
  for name, value in vars(model_config).items():
    if isinstance(value, hyperparams.OneOfConfig):
      choice = value.get()
      if choice is not None:
        expected[name] = getattr(choice, 'norm', MODEL_GARDEN_NORM)
    elif isinstance(value, hyperparams.Config) and hasattr(value, 'norm'):
      expected[name] = value.norm
  return expected


def check_model_norms(model, model_config) -> None:
  """Raises unless each part of `model` holds the norm its config names.

  Every task and serving module calls this on the model it built, so a GN
  config can never silently train or export a BN model.

  Args:
    model: A model whose parts are attributes named as in the config
      (`model.backbone`, `model.decoder`, `model.rpn_head`, ...).
    model_config: Its model config (`task.model`).

  Raises:
    ValueError: naming the first part whose norm layers differ, or a part
      the config sets that the model lacks (unless the config turns that
      part off: `include_mask: false` for the mask head).
  """
  disabled = disabled_parts(model_config)
  for part, norm in expected_part_norms(model_config).items():
    layer = getattr(model, part, None)
    if layer is None:
      if part in disabled:
        continue
      raise ValueError(f'The model has no {part}, which its config sets '
                       f'(norm {norm!r}); nothing of it can be checked.')
    check_norms(layer, norm, what=part)


def disabled_parts(model_config) -> Set[str]:
  """The configured parts that the config itself turns off."""
  if getattr(model_config, 'include_mask', True) is False:
    return {'mask_head'}
  return set()


def backbone_arguments(backbone_config, backbone_type: str,
                       norm_activation_config, l2_regularizer
                       ) -> Tuple[Any, Dict[str, Any]]:
  """A ResNet-GN builder's one-of config and its backbone's shared arguments.

  Args:
    backbone_config: The model's `Backbone`/`Backbone3D` config.
    backbone_type: The builder's type ('resnet_gn', 'resnet_3d_gn').
    norm_activation_config: The model's `norm_activation`.
    l2_regularizer: The task's weight decay, also on the norms' gamma and
      beta when the config's `norm_weight_decay` says so.

  Returns:
    (the one-of's config, keyword arguments: depth, width, norm, activation
    and regularizers).

  Raises:
    ValueError: for a backbone of another type.
  """
  if backbone_config.type != backbone_type:
    raise ValueError(f'build_{backbone_type} got backbone type '
                     f'{backbone_config.type!r}, expected "{backbone_type}".')
  config = backbone_config.get()
  spec = NormSpec.of_part(config, norm_activation_config)
  return config, dict(
      model_id=config.model_id, depth_multiplier=config.depth_multiplier,
      zero_init_last_gamma=config.zero_init_last_gamma,
      activation=norm_activation_config.activation,
      kernel_regularizer=l2_regularizer,
      norm_regularizer=l2_regularizer if config.norm_weight_decay else None,
      **spec.part_arguments())
