"""Migration from tensorflow-addons: load models saved with tfa's layer.

tensorflow-addons no longer imports beside TensorFlow >= 2.16, so models saved
with `tfa.layers.GroupNormalization` name a class nobody can provide. tfa
registered it as "Addons>GroupNormalization", with the arguments `groups`,
`axis`, `epsilon`, `center`, `scale` and the `beta_`/`gamma_` initializers,
regularizers and constraints, all of which gn_keras' layers accept with the
same meaning, and the same weights (gamma, then beta). `register()` (run by
`import gn_keras`) maps that name to gn_keras' layers in the global custom
objects of Keras 3 and, on the TensorFlow backend, of tf_keras, so
`load_model`, `model_from_json` and `load_weights` work with no
`custom_objects`. On the JAX backend `import gn_keras` imports no TensorFlow:
tf_keras gets the name when `gn_keras.tf_keras` is imported.
"""

import keras as _keras3

TFA_NAME = 'Addons>GroupNormalization'


def register():
  """Maps tfa's registered layer name to gn_keras' layers; idempotent."""
  from gn_keras import layers  # noqa: PLC0415 (gn_keras.layers imports us)
  _keras3.saving.get_custom_objects()[TFA_NAME] = layers.GroupNormalization
  if _keras3.backend.backend() == 'tensorflow':
    # Registers the name with tf_keras on import.
    from gn_keras import tf_keras as _  # noqa: F401, PLC0415


def keras3_model_from_tfa_json(json_string: str):
  """Builds a Keras 3 model from the JSON of a Keras 2 / tfa model.

  `keras.models.model_from_json` reads only Keras 3 JSON and fails on any
  Keras 2 model ("Could not locate class 'Functional'"), tfa or not. This goes
  through the legacy reader that `keras.models.load_model("model.h5")` itself
  uses; follow it with `model.load_weights("weights.h5")`.

  Args:
    json_string: What Keras 2's `model.to_json()` wrote.

  Returns:
    An unbuilt-weights Keras 3 model whose tfa layers are gn_keras layers.
  """
  import json  # pylint: disable=g-import-not-at-top

  from keras.src.legacy.saving import saving_utils  # pylint: disable=g-import-not-at-top
  register()
  return saving_utils.model_from_config(json.loads(json_string))
