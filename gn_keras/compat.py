"""Migration from tensorflow-addons: load models saved with tfa's layer.

tensorflow-addons no longer imports beside TensorFlow >= 2.16, so models saved
with `tfa.layers.GroupNormalization` name a class nobody can provide. tfa
registered it as "Addons>GroupNormalization", with the arguments `groups`,
`axis`, `epsilon`, `center`, `scale` and the `beta_`/`gamma_` initializers,
regularizers and constraints, all of which gn_keras' layers accept with the
same meaning, and the same weights (gamma, then beta). Each layer module maps
that name to its own class when imported (`gn_keras.layers` in Keras 3's
global custom objects, `gn_keras.tf_keras` in tf_keras'), so `load_model`,
`model_from_json` and `load_weights` work with no `custom_objects`.
`register()` (run by `import gn_keras`) imports the layer modules the backend
allows: on the JAX backend `import gn_keras` imports no TensorFlow, and
tf_keras gets the name when `gn_keras.tf_keras` is imported.
"""

import keras as _keras3

from gn_keras import _layer
from gn_keras import layers as _layers  # noqa: F401 (registers the name)

TFA_NAME = _layer.TFA_NAME


def register():
  """Imports the layer modules that map tfa's name; idempotent."""
  if _keras3.backend.backend() == 'tensorflow':
    from gn_keras import tf_keras as _  # noqa: F401, PLC0415 (needs TensorFlow)


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
  import json  # noqa: PLC0415

  from keras.src.legacy.saving import saving_utils  # noqa: PLC0415
  register()
  return saving_utils.model_from_config(json.loads(json_string))
