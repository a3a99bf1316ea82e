"""GroupNormalization for Keras 3: thin, over the backend's kernel.

On the TensorFlow backend the layer calls the TensorFlow op (`gn_keras.ops`),
on JAX the JAX one (`gn_keras.jax_ops`), on PyTorch the torch one
(`gn_keras.torch_ops`); arguments, config, weights and numerics are the same,
so a `.keras` file saved on one backend loads on the others. Only the
backend's kernel is imported: on JAX and PyTorch, no TensorFlow. Importing
this module maps tensorflow-addons' layer name to this layer in Keras 3's
custom objects (see `gn_keras.compat`).
"""

import keras

from gn_keras import _layer

SUPPORTED_BACKENDS = ('tensorflow', 'jax', 'torch')


def _backend_kernel():
  """The group_norm op of the Keras backend, or None if it has none."""
  backend = keras.backend.backend()
  if backend == 'tensorflow':
    from gn_keras import ops  # noqa: PLC0415 (only the backend's kernel)
    return ops.group_norm
  if backend == 'jax':
    from gn_keras import jax_ops  # noqa: PLC0415
    return jax_ops.group_norm
  if backend == 'torch':
    from gn_keras import torch_ops  # noqa: PLC0415
    return torch_ops.group_norm
  return None


@keras.saving.register_keras_serializable(package='gn_keras')
class GroupNormalization(  # noqa: D101 (the docstring is _layer.DOC)
    _layer.GroupNormalizationBase, keras.layers.Layer):
  __doc__ = _layer.DOC

  _keras = keras
  _kernel = _backend_kernel()
  _kernel = None if _kernel is None else staticmethod(_kernel)
  _cast = staticmethod(keras.ops.cast)
  # Keras 3 keeps a variable in its own dtype inside a mixed-precision call
  # only when it is created with autocast=False.
  _float32_weight_kwargs = {'autocast': False}

  def __init__(self, *args, **kwargs):
    if keras.backend.backend() not in SUPPORTED_BACKENDS:
      raise ValueError(
          'gn_keras.GroupNormalization runs on the Keras backends '
          f'{", ".join(SUPPORTED_BACKENDS)}; received '
          f'KERAS_BACKEND={keras.backend.backend()!r}.')
    super().__init__(*args, **kwargs)


keras.saving.get_custom_objects()[_layer.TFA_NAME] = GroupNormalization
