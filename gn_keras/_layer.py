"""What the Keras 3 and the tf_keras GroupNormalization layers share.

The two layers differ only in which Keras they are built on (its `Layer`,
initializers, regularizers, constraints, activations and how `add_weight` keeps
a float32 variable under mixed precision) and in which kernel they call (the
TensorFlow op, or the JAX one for Keras 3 on JAX); everything else lives here,
so they cannot drift apart. No backend is imported here.
"""

from typing import Any, Callable, Dict

from gn_keras import _args

# The name tensorflow-addons registered its layer under; each layer module
# maps it to its own class, so tfa-era models load (see `gn_keras.compat`).
TFA_NAME = 'Addons>GroupNormalization'

DOC = """Group normalization layer (Wu & He, 2018).

  Splits the channels into groups and normalizes each sample's group over the
  group's channels and all spatial positions, then applies a per-channel
  `gamma` and `beta`. Unlike batch normalization, nothing depends on the batch:
  training and inference compute the same thing and small per-replica batches
  do not hurt. Statistics are computed in float32 for float16 and bfloat16
  inputs, and `gamma`/`beta` stay float32 variables under mixed precision.

  Relation to other normalizations: `groups=1` is layer normalization over all
  non-batch axes with a per-channel affine; `groups=-1` (one channel per group)
  is instance normalization.

  Args:
    groups: Number of groups, a divisor of the channel count, or -1 for one
      group per channel. Defaults to 32. Set to None when using `group_size`.
    group_size: Channels per group, the alternative to `groups` (exactly one of
      the two). Defaults to None.
    axis: The channel axis: -1 for channels-last, 1 for channels-first.
      Defaults to -1.
    epsilon: Small float added to the variance. Defaults to 1e-5, the
      paper's; Keras' own GroupNormalization and tensorflow-addons' default
      to 1e-3 (pass it to compute what they do; `convert_group_norm` keeps
      each layer's).
    center: If True, add the learned offset `beta`. Defaults to True.
    scale: If True, multiply by the learned scale `gamma`. Defaults to True.
    beta_initializer: Initializer for `beta`. Defaults to "zeros".
    gamma_initializer: Initializer for `gamma`. Defaults to "ones".
    beta_regularizer: Optional regularizer for `beta`. Defaults to None.
    gamma_regularizer: Optional regularizer for `gamma`. Defaults to None.
    beta_constraint: Optional constraint for `beta`. Defaults to None.
    gamma_constraint: Optional constraint for `gamma`. Defaults to None.
    activation: Optional activation (name or callable) applied to the
      normalized output in the same layer call, after the op (XLA fuses the
      two when compiling), e.g. "relu" or "silu". Defaults to None.
    **kwargs: Base layer arguments, e.g. `name` and `dtype`.

  Call arguments:
    inputs: Tensor of rank 2 to 5 whose channel dimension is known.
    mask: Optional boolean or float mask of the inputs' shape, or of their
      shape without the channel axis (what Keras propagates from `Masking`
      or `Embedding(mask_zero=True)`). The statistics are taken over the
      positions it keeps only (float masks weigh them); the mask is passed
      on to the next layer.

  Input shape:
    Any rank from 2 to 5, e.g. `(batch, height, width, channels)`.

  Output shape:
    Same as the input.

  Reference:
    Yuxin Wu, Kaiming He. Group Normalization. ECCV 2018.
    https://arxiv.org/abs/1803.08494

  Example:

  >>> layer = GroupNormalization(groups=4)
  >>> layer(np.ones((2, 8, 8, 16), "float32")).shape
  TensorShape([2, 8, 8, 16])
"""

_NAMED_ARGS = ('groups', 'group_size', 'axis', 'epsilon', 'center', 'scale')
_OBJECT_ARGS = ('initializers', 'regularizers', 'constraints')
_WEIGHT_OBJECTS = tuple(f'{w}_{kind[:-1]}' for w in ('beta', 'gamma')
                        for kind in _OBJECT_ARGS)


class GroupNormalizationBase:
  """Mixin with the layer logic; subclasses set `_keras` and mix in `Layer`."""

  _keras: Any = None  # The Keras module: `keras` or `tf_keras`.
  # The kernel (`group_norm(x, groups, gamma, beta, axis, epsilon,
  # activation=, mask=)`) and a cast to the compute dtype: staticmethods set
  # by each subclass.
  _kernel: Callable = None
  _cast: Callable = None
  _float32_weight_kwargs: Dict[str, Any] = {}
  # Prefix of the weights' names, hence of their checkpoint keys.
  _weight_name_prefix = ''

  def __init__(self,
               groups=32,
               group_size=None,
               axis=-1,
               epsilon=1e-5,
               center=True,
               scale=True,
               beta_initializer='zeros',
               gamma_initializer='ones',
               beta_regularizer=None,
               gamma_regularizer=None,
               beta_constraint=None,
               gamma_constraint=None,
               activation=None,
               **kwargs):
    # Inputs are taken as they arrive: under a mixed policy Keras would cast
    # a float32 input to float16 before the float32 statistics see it (7e4
    # becomes inf). The output is cast to the compute dtype instead.
    kwargs.setdefault('autocast', False)
    super().__init__(**kwargs)
    _args.check_group_args(groups, group_size)  # The channels come in build.
    if not isinstance(axis, int):
      raise ValueError(f'`axis` must be an integer; received axis={axis!r}.')
    if axis == 0:
      raise ValueError('`axis` is the channel axis and cannot be 0, the batch '
                       'axis; received axis=0.')
    if not epsilon > 0:
      raise ValueError(
          f'`epsilon` must be positive; received epsilon={epsilon!r}.')
    self.groups = groups
    self.group_size = group_size
    self.axis = axis
    self.epsilon = epsilon
    self.center = center
    self.scale = scale
    for arg_name, value in (('beta_initializer', beta_initializer),
                            ('gamma_initializer', gamma_initializer),
                            ('beta_regularizer', beta_regularizer),
                            ('gamma_regularizer', gamma_regularizer),
                            ('beta_constraint', beta_constraint),
                            ('gamma_constraint', gamma_constraint)):
      setattr(self, arg_name, self._objects(arg_name).get(value))
    self.activation = (None if activation is None else
                       self._keras.activations.get(activation))
    self.supports_masking = True

  @classmethod
  def _objects(cls, arg_name):
    """The Keras module for an argument: initializers, regularizers, ..."""
    return getattr(cls._keras, arg_name.split('_')[1] + 's')

  def build(self, input_shape):
    input_shape = tuple(input_shape)
    try:
      axis = _args.normalize_axis(self.axis, len(input_shape))
      channels = input_shape[axis]
      if channels is None:
        raise ValueError(
            f'The channel dimension (axis {self.axis}) of the inputs must be '
            f'known; received input shape {input_shape}.')
      self._groups = _args.resolve_groups(channels, self.groups,
                                          self.group_size)
    except ValueError as e:  # Name the layer: models hold many of them.
      raise ValueError(f'Layer {self.name!r}: {e}') from None
    self._axis = axis
    self.input_spec = self._keras.layers.InputSpec(
        ndim=len(input_shape), axes={axis: channels})
    # gamma before beta: the order tensorflow-addons and Keras save weights in.
    self._set_weight_attribute(
        'gamma', self._add_param('gamma', channels) if self.scale else None)
    self._set_weight_attribute(
        'beta', self._add_param('beta', channels) if self.center else None)
    super().build(input_shape)

  def _set_weight_attribute(self, name, weight):
    setattr(self, name, weight)

  def _add_param(self, name, channels):
    return self.add_weight(
        name=self._weight_name_prefix + name,
        shape=(channels,),
        dtype='float32',
        initializer=getattr(self, f'{name}_initializer'),
        regularizer=getattr(self, f'{name}_regularizer'),
        constraint=getattr(self, f'{name}_constraint'),
        trainable=True,
        **self._float32_weight_kwargs)

  def call(self, inputs, mask=None):
    """Normalizes `inputs` (over `mask`'s positions); in the compute dtype."""
    outputs = self._kernel(
        inputs,
        groups=self._groups,
        gamma=self.gamma,
        beta=self.beta,
        axis=self._axis,
        epsilon=self.epsilon,
        activation=self.activation,
        mask=mask)
    return self._cast(outputs, self.compute_dtype)

  def compute_output_shape(self, input_shape):
    return input_shape

  def get_config(self):
    config = {name: getattr(self, name) for name in _NAMED_ARGS}
    for arg_name in _WEIGHT_OBJECTS:
      config[arg_name] = self._objects(arg_name).serialize(
          getattr(self, arg_name))
    config['activation'] = (None if self.activation is None else
                            self._keras.activations.serialize(self.activation))
    return {**super().get_config(), **config}
