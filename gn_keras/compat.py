"""Migration from tensorflow-addons: load models saved with tfa's layer.

tensorflow-addons no longer imports beside TensorFlow >= 2.16, so models saved
with `tfa.layers.GroupNormalization` name a class nobody can provide. tfa
registered it as "Addons>GroupNormalization", with the arguments `groups`,
`axis`, `epsilon`, `center`, `scale` and the `beta_`/`gamma_` initializers,
regularizers and constraints, all of which gn_keras' layers accept with the
same meaning, and the same weights (gamma, then beta). `register()` (run by
`import gn_keras`) maps that name to gn_keras' layers in the global custom
objects of both tf_keras and Keras 3, so `load_model`, `model_from_json` and
`load_weights` work with no `custom_objects`.
"""

import keras as _keras3
import tf_keras as _tf_keras

from gn_keras import layers as _layers
from gn_keras import tf_keras as _gn_tf_keras

TFA_NAME = 'Addons>GroupNormalization'


def register():
  """Maps tfa's registered layer name to gn_keras' layers; idempotent."""
  _tf_keras.saving.get_custom_objects()[TFA_NAME] = (
      _gn_tf_keras.GroupNormalization)
  _keras3.saving.get_custom_objects()[TFA_NAME] = _layers.GroupNormalization
