"""GroupNormalization for tf_keras (Keras 2), the Keras Model Garden uses.

It needs TensorFlow, whatever KERAS_BACKEND says (tf_keras ignores it).
Importing this module also registers tensorflow-addons' layer name with
tf_keras (see `gn_keras.compat`).
"""

try:
  import tensorflow as tf
  import tf_keras as _tf_keras
except ImportError as e:  # Say what is missing, not where it was looked up.
  raise ImportError(
      'gn_keras.tf_keras needs TensorFlow and tf_keras (pip install '
      f'tensorflow tf-keras); importing them failed: {e}') from e

from gn_keras import _layer
from gn_keras import ops


@_tf_keras.saving.register_keras_serializable(package='gn_keras')
class GroupNormalization(  # noqa: D101 (the docstring is _layer.DOC)
    _layer.GroupNormalizationBase, _tf_keras.layers.Layer):
  __doc__ = _layer.DOC

  _keras = _tf_keras
  _kernel = staticmethod(ops.group_norm)
  _cast = staticmethod(tf.cast)
  # As tf_keras' BatchNormalization does: gamma/beta stay float32 variables
  # under mixed precision instead of being read as float16/bfloat16.
  _float32_weight_kwargs = {'experimental_autocast': False}
  # Checkpoint keys `gn_gamma`/`gn_beta`, not BatchNorm's `gamma`/`beta`: a BN
  # model's checkpoint then never restores silently into a GN model (Model
  # Garden's init_checkpoint asserts every GN weight was found). Saved .h5
  # weights load by position, so tensorflow-addons models still load.
  _weight_name_prefix = 'gn_'

  def compute_output_shape(self, input_shape):
    """The input's shape; builds the layer first, as tf_keras layers do."""
    if not self.built:
      self.build(tuple(tf.TensorShape(input_shape).as_list()))
    return tf.TensorShape(input_shape)

  @tf.__internal__.tracking.no_automatic_dependency_tracking
  def _set_weight_attribute(self, name, weight):
    # add_weight tracks the variable as `gn_gamma`; tracking the attribute
    # too would add BatchNorm's key, `gamma`, beside it.
    setattr(self, name, weight)


_tf_keras.saving.get_custom_objects()[_layer.TFA_NAME] = GroupNormalization
