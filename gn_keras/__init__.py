"""gn_keras: Group Normalization for TensorFlow, Keras 3 and tf_keras.

`from gn_keras import GroupNormalization, group_norm` gives the Keras 3 layer
and the op; `from gn_keras.tf_keras import GroupNormalization` the tf_keras
layer. Importing the package also lets models saved with tensorflow-addons'
GroupNormalization load (see `gn_keras.compat`).
"""

# Submodules are imported under their own names only: a global called
# `tf_keras` here would shadow the submodule `gn_keras.tf_keras`.
from gn_keras import compat as _compat
from gn_keras.convert import convert_batch_norm
from gn_keras.layers import GroupNormalization
from gn_keras.ops import group_norm

__version__ = '0.1.0'
__all__ = ['GroupNormalization', 'convert_batch_norm', 'group_norm']

_compat.register()
