"""GroupNormalization for Keras 3 (TensorFlow backend): thin, over the op."""

import keras

from gn_keras import _layer


@keras.saving.register_keras_serializable(package='gn_keras')
class GroupNormalization(  # noqa: D101 (the docstring is _layer.DOC)
    _layer.GroupNormalizationBase, keras.layers.Layer):
  __doc__ = _layer.DOC

  _keras = keras
  # Keras 3 keeps a variable in its own dtype inside a mixed-precision call
  # only when it is created with autocast=False.
  _float32_weight_kwargs = {'autocast': False}

  def __init__(self, *args, **kwargs):
    if keras.backend.backend() != 'tensorflow':
      raise ValueError(
          'gn_keras.GroupNormalization runs on the TensorFlow backend; '
          f'received KERAS_BACKEND={keras.backend.backend()!r}.')
    super().__init__(*args, **kwargs)
