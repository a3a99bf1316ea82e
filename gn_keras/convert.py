"""Converting existing Keras models (Keras 3 and tf_keras) to gn_keras' GN.

`keras.applications` and keras-hub ResNets hard-code BatchNormalization;
`convert_batch_norm` gives any built Functional or Sequential model, nested
ones included, a GroupNormalization in place of each batch norm.
`convert_group_norm` swaps Keras' own GroupNormalization for ours, keeping
what each computes.
"""

from typing import Any, List, Optional, Tuple

from gn_keras import _args


def _largest_divisor(channels: int, at_most: int) -> int:
  """The largest divisor of `channels` that is not above `at_most`."""
  return max(d for d in range(1, min(channels, at_most) + 1)
             if channels % d == 0)


def _flavour(model) -> Tuple[Any, type, tuple]:
  """(Keras module, our GroupNormalization, its batch-norm classes)."""
  import keras  # noqa: PLC0415 (each flavour is imported only when used)

  if isinstance(model, keras.Model):
    from gn_keras import layers  # noqa: PLC0415
    return keras, layers.GroupNormalization, (keras.layers.BatchNormalization,)
  try:  # Only a tf_keras model needs TensorFlow.
    import tf_keras  # noqa: PLC0415
  except ImportError:
    tf_keras = None
  if tf_keras is not None and isinstance(model, tf_keras.Model):
    from gn_keras import tf_keras as gn_tf_keras  # noqa: PLC0415
    # tf_keras' SyncBatchNormalization derives from the BN base class, not
    # from BatchNormalization.
    return tf_keras, gn_tf_keras.GroupNormalization, (
        tf_keras.layers.BatchNormalization,
        tf_keras.layers.experimental.SyncBatchNormalization)
  raise TypeError('gn_keras converts Keras 3 and tf_keras models; '
                  f'received {type(model).__name__}.')


def convert_batch_norm(model, groups: Optional[int] = 32,
                       group_size: Optional[int] = None, **gn_kwargs):
  """Returns a copy of `model` with every batch norm replaced by group norm.

  Every BatchNormalization (Keras 3 or tf_keras, any axis, synchronized ones
  included) becomes a gn_keras GroupNormalization of the same axis, epsilon
  (unless `gn_kwargs` sets one), name, trainability, `center` and `scale`,
  whose gamma and beta are copied from the BN (its moving statistics have no
  use in GN and are dropped). Every other layer is a copy with its weights
  copied: the new model shares no variable with `model`. Nested models are
  converted too.

  Group rule: with `groups`, a layer whose channel count `groups` does not
  divide gets the largest divisor of its channels not above `groups` (e.g.
  24 channels and groups=32 give 24 groups, 144 give 24); with `group_size`,
  a channel count it does not divide raises, naming the layer.

  Args:
    model: A built Functional or Sequential model, Keras 3 or tf_keras.
    groups: Number of groups (upper bound, see above). Defaults to 32. Set
      to None to use `group_size`.
    group_size: Channels per group, the alternative to `groups`.
    **gn_kwargs: Other GroupNormalization arguments, e.g. `epsilon` (by
      default each BN's) or initializers. Those taken from each BN (`axis`,
      `name`, `trainable`, `center`, `scale`) and `activation` (it would
      change what the model computes) are refused.

  Returns:
    The converted model, of the same flavour.

  Raises:
    ValueError: for a model that is not built, bad group settings, a channel
      count `group_size` does not divide, or arguments that cannot apply.
    TypeError: for an object that is not a Keras model.

  Example:
  >>> model = keras.applications.ResNet50(weights=None)
  >>> gn_model = gn_keras.convert_batch_norm(model, groups=32)
  """
  _args.check_group_args(groups, group_size)
  refused = {'axis', 'name', 'trainable', 'activation', 'center', 'scale'}
  if refused & set(gn_kwargs):
    raise ValueError(
        f'convert_batch_norm takes {sorted(refused & set(gn_kwargs))} from '
        'each batch norm (or, for activation, keeps the model as it is); '
        'pass only other GroupNormalization arguments.')
  _check_model(model)
  _, gn_class, bn_classes = _flavour(model)

  def replace(layer):
    if not isinstance(layer, bn_classes):
      return None
    new = _group_norm_for(layer, gn_class, groups, group_size, gn_kwargs)
    # BN's weights are [gamma?, beta?, moving_mean, moving_variance]; the
    # moving statistics have no use in GN.
    return new, lambda: new.set_weights(
        layer.get_weights()[:int(layer.scale) + int(layer.center)])

  return _convert(model, replace)


def convert_group_norm(model):
  """Returns a copy of `model` with Keras' GroupNormalization replaced by ours.

  Every `keras.layers.GroupNormalization` (in a tf_keras model,
  `tf_keras.layers.GroupNormalization`) becomes a gn_keras
  GroupNormalization with the same config (groups, axis, epsilon, center,
  scale, initializers, regularizers, constraints, name, trainability, dtype
  policy) and weights, so the model computes what it did (to float32
  rounding). Note the epsilon: Keras' layer defaults to 1e-3, ours to the
  paper's 1e-5; each converted layer keeps the epsilon it had.

  Layers found: those of the model and of nested models, and those that a
  subclassed layer holds as attributes (directly, in a list, or inside
  another such layer). The copy saves and loads as ours from `.keras`
  (safe mode included), with one exception: a subclassed layer builds its
  sublayers again in `__init__` when it is loaded, so one that creates a
  Keras GroupNormalization there has Keras' layer again after
  `keras.models.load_model`; call `convert_group_norm` on the loaded model.

  Args:
    model: A built Functional or Sequential model, Keras 3 or tf_keras.

  Returns:
    The converted model, of the same flavour. Every other layer is a copy with
    its weights copied: the new model shares no variable with `model`.

  Raises:
    ValueError: for a model that is not built.
    TypeError: for an object that is not a Keras model.

  Example:
  >>> inputs = keras.Input((8, 8, 16))
  >>> model = keras.Model(inputs, keras.layers.GroupNormalization(4)(inputs))
  >>> ours = gn_keras.convert_group_norm(model)
  """
  _check_model(model)
  keras_module, gn_class, _ = _flavour(model)
  keras_gn = keras_module.layers.GroupNormalization

  def replace(layer):
    if isinstance(layer, keras_gn):
      new = gn_class.from_config(layer.get_config())
      return new, lambda: new.set_weights(layer.get_weights())
    if type(layer).__module__.startswith(('keras.', 'tf_keras.')):
      return None  # Keras' own layers hold no GN.
    new = layer.__class__.from_config(layer.get_config())

    def copy_then_swap():
      new.set_weights(layer.get_weights())
      _swap_held_layers(new, keras_gn, gn_class)

    return new, copy_then_swap

  return _convert(model, replace)


def _check_model(model):
  _flavour(model)  # Raises for anything but a Keras model.
  if not model.built:
    raise ValueError(f'Model {model.name!r} is not built; build it (call it '
                     'or give it an Input) before converting it.')


def _convert(model, replace):
  """Clones `model`, with `replace(layer)` for each layer, and its weights.

  `replace` gives None (the layer is cloned from its config) or (new layer,
  a function that gives it its weights once built).
  """
  keras_module = _flavour(model)[0]
  finish: List[Any] = []  # Called once the clone is built.

  def clone(layer):
    if isinstance(layer, keras_module.Model):  # Nested: weights copied inside.
      return _convert(layer, replace)
    replaced = replace(layer)
    if replaced is None:
      new = layer.__class__.from_config(layer.get_config())
      replaced = new, lambda: new.set_weights(layer.get_weights())
    finish.append(replaced[1])
    return replaced[0]

  converted = keras_module.models.clone_model(model, clone_function=clone)
  for copy_weights in finish:
    copy_weights()
  return converted


def _swap_held_layers(owner, keras_gn, gn_class):
  """Replaces the Keras GNs that a built layer holds (see convert_group_norm).

  Each is replaced, built and with its weights, where it is held: an
  attribute or a list item. A built Keras 3 layer refuses new sublayers, so
  there the attribute is set past its tracking and the tracked sublayer is
  replaced in place (which keeps the order of `weights`).
  """
  for name, value in list(vars(owner).items()):
    if name.startswith('_'):
      continue
    if isinstance(value, list):
      for i, item in enumerate(value):
        if isinstance(item, keras_gn):
          value[i] = _replace_tracked(owner, item, gn_class)
        elif _is_plain_layer(item):
          _swap_held_layers(item, keras_gn, gn_class)
    elif isinstance(value, keras_gn):
      new = _replace_tracked(owner, value, gn_class)
      if hasattr(owner, '_tracker'):  # Keras 3.
        object.__setattr__(owner, name, new)
      else:  # tf_keras untracks the old value itself.
        setattr(owner, name, new)
    elif _is_plain_layer(value):
      _swap_held_layers(value, keras_gn, gn_class)


def _is_plain_layer(value):
  """A layer that is not a model (models are converted by cloning)."""
  return hasattr(value, 'get_config') and hasattr(value, 'build') and (
      not hasattr(value, 'layers'))


def _replace_tracked(owner, old, gn_class):
  """Our GN for `old` (built, its weights), tracked by `owner` in its place."""
  new = gn_class.from_config(old.get_config())
  shape = [None] * old.input_spec.ndim
  for axis, channels in old.input_spec.axes.items():
    shape[axis] = channels
  new.build(tuple(shape))
  new.set_weights(old.get_weights())
  tracker = getattr(owner, '_tracker', None)
  if tracker is not None:  # Keras 3: keep `owner.weights` in order.
    tracker.replace_tracked_value('layers', old, new)
  return new


def _group_norm_for(batch_norm, gn_class, groups, group_size, gn_kwargs):
  """The GroupNormalization that replaces `batch_norm` (not yet built)."""
  axis = batch_norm.axis  # tf_keras keeps a list once built.
  if isinstance(axis, (list, tuple)):
    if len(axis) != 1:
      raise ValueError(f'Layer {batch_norm.name!r}: a batch norm over axes '
                       f'{list(axis)} has no group-norm equivalent.')
    axis = axis[0]
  channels = int(batch_norm.moving_mean.shape[0])
  if group_size is not None:
    if channels % group_size:
      raise ValueError(
          f'Layer {batch_norm.name!r}: group_size={group_size} does not '
          f'divide its {channels} channels.')
    layer_groups, layer_group_size = None, group_size
  else:
    layer_groups = (channels if groups == -1 else
                    _largest_divisor(channels, groups))
    layer_group_size = None
  kwargs = {'epsilon': batch_norm.epsilon, **gn_kwargs}
  return gn_class(groups=layer_groups, group_size=layer_group_size, axis=axis,
                  center=batch_norm.center, scale=batch_norm.scale,
                  name=batch_norm.name, trainable=batch_norm.trainable,
                  **kwargs)


