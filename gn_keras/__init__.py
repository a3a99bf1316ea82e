"""gn_keras: Group Normalization for TensorFlow, JAX, Keras 3 and tf_keras.

`from gn_keras import GroupNormalization` gives the Keras 3 layer (TensorFlow
or JAX backend), `from gn_keras import group_norm` the TensorFlow op,
`from gn_keras.jax_ops import group_norm` the JAX op, and
`from gn_keras.tf_keras import GroupNormalization` the tf_keras layer.
Importing the package also lets models saved with tensorflow-addons'
GroupNormalization load (see `gn_keras.compat`). Only the Keras backend's
kernel is imported: on JAX, no TensorFlow.
"""

import importlib

# Submodules are imported under their own names only: a global called
# `tf_keras` here would shadow the submodule `gn_keras.tf_keras`.
from gn_keras import compat as _compat
from gn_keras.convert import convert_batch_norm
from gn_keras.convert import convert_group_norm
from gn_keras.layers import GroupNormalization

__version__ = '0.1.0'
__all__ = ['GroupNormalization', 'convert_batch_norm', 'convert_group_norm',
           'group_norm']

_compat.register()


def __getattr__(name):
  # The TensorFlow op, imported when first asked for (PEP 562), so that
  # `import gn_keras` on the JAX backend imports no TensorFlow.
  if name == 'group_norm':
    return importlib.import_module('gn_keras.ops').group_norm
  raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
