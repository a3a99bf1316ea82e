"""GroupNormalization for tf_keras (Keras 2), the Keras Model Garden uses."""

import tf_keras as _tf_keras

from gn_keras import _layer


@_tf_keras.saving.register_keras_serializable(package='gn_keras')
class GroupNormalization(_layer.GroupNormalizationBase, _tf_keras.layers.Layer):
  __doc__ = _layer.DOC

  _keras = _tf_keras
  # As tf_keras' BatchNormalization does: gamma/beta stay float32 variables
  # under mixed precision instead of being read as float16/bfloat16.
  _float32_weight_kwargs = {'experimental_autocast': False}
