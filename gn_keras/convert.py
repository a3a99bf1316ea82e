"""BN -> GN conversion of existing Keras models (Keras 3 and tf_keras).

`keras.applications` and keras-hub ResNets hard-code BatchNormalization;
`convert_batch_norm` gives any built Functional or Sequential model, nested
ones included, a GroupNormalization in place of each batch norm.
"""

from typing import Any, List, Optional, Tuple

from gn_keras import _args


def _largest_divisor(channels: int, at_most: int) -> int:
  """The largest divisor of `channels` that is not above `at_most`."""
  return max(d for d in range(1, min(channels, at_most) + 1)
             if channels % d == 0)


def _flavour(model) -> Tuple[Any, type, tuple]:
  """(Keras module, its GroupNormalization, its batch-norm classes)."""
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
  raise TypeError('convert_batch_norm takes a Keras 3 or tf_keras model; '
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
  _flavour(model)  # Raises for anything but a Keras model.
  if not model.built:
    raise ValueError(f'Model {model.name!r} is not built; build it (call it '
                     'or give it an Input) before converting it.')
  return _convert(model, groups, group_size, gn_kwargs)


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


def _convert(model, groups, group_size, gn_kwargs):
  """Clones `model` with the conversion and copies every weight."""
  keras_module, gn_class, bn_classes = _flavour(model)
  pairs: List[Tuple[Any, Any]] = []  # (new layer, old layer) to copy.

  def clone(layer):
    if isinstance(layer, keras_module.Model):  # Nested: weights copied inside.
      return _convert(layer, groups, group_size, gn_kwargs)
    if isinstance(layer, bn_classes):
      new = _group_norm_for(layer, gn_class, groups, group_size, gn_kwargs)
    else:
      new = layer.__class__.from_config(layer.get_config())
    pairs.append((new, layer))
    return new

  converted = keras_module.models.clone_model(model, clone_function=clone)
  for new, old in pairs:
    if isinstance(old, bn_classes):
      # BN's weights are [gamma?, beta?, moving_mean, moving_variance].
      affine = old.get_weights()[:int(old.scale) + int(old.center)]
      new.set_weights(affine)
    else:
      new.set_weights(old.get_weights())
  return converted
