"""The layer flavours the shared layer checks run over, each built on demand.

A flavour is a Keras and its gn_keras GroupNormalization. Each is made only
when a test asks for it, so the shared checks collect without importing any
backend. The Keras 3 backend is fixed when Keras is first imported, so the
JAX (PyTorch) backend's flavour is the only one of a pytest process run with
KERAS_BACKEND=jax (torch); tests/gn_keras/test_jax_backend.py
(test_torch_backend.py) starts one.
"""

import dataclasses
import os
from typing import Any, Callable, Dict


@dataclasses.dataclass
class Flavour:
  """One layer flavour under test."""
  keras: Any  # The Keras module: keras or tf_keras.
  layer: type  # Its gn_keras GroupNormalization.
  set_policy: Callable[[str], None]
  save_formats: tuple  # File suffixes model.save() round-trips here.
  weight_prefix: str = ''  # Of the weights' (and checkpoint keys') names.
  # A layer's output as a NumPy array (torch outputs that need grad refuse
  # np.asarray).
  numpy: Callable[[Any], Any] = lambda t: t


def keras3() -> Flavour:
  """The Keras 3 layer (on this process's backend: TensorFlow or JAX)."""
  import keras  # noqa: PLC0415 (on demand: see the module docstring)

  import gn_keras  # noqa: PLC0415
  return Flavour(keras=keras, layer=gn_keras.GroupNormalization,
                 set_policy=keras.mixed_precision.set_global_policy,
                 save_formats=('.keras',),
                 numpy=keras.ops.convert_to_numpy)


def tf_keras() -> Flavour:
  """The tf_keras layer."""
  import tf_keras as keras2  # noqa: PLC0415

  from gn_keras import tf_keras as gn_tf_keras  # noqa: PLC0415
  return Flavour(keras=keras2, layer=gn_tf_keras.GroupNormalization,
                 set_policy=keras2.mixed_precision.set_global_policy,
                 save_formats=('.h5', '.keras', ''),  # '' = SavedModel dir.
                 weight_prefix='gn_')


_BACKEND = os.environ.get('KERAS_BACKEND')
if _BACKEND in ('jax', 'torch'):
  FLAVOURS: Dict[str, Callable[[], Flavour]] = {f'keras3_{_BACKEND}': keras3}
else:
  FLAVOURS = {'keras3': keras3, 'tf_keras': tf_keras}
