"""The base of the project's backbones and decoders: named feature maps."""

import tf_keras


class FeatureModel(tf_keras.Model):
  """A functional model of named feature maps, built from keyword arguments.

  Subclasses build their graph in `__init__` and end with
  `super().__init__(config, inputs, outputs)`: the base keeps `config` (the
  constructor's arguments) for `get_config` / `from_config`, and exposes
  `output_specs` ({name: static shape}) as Model Garden's backbones and
  decoders do, so its factories and heads take them unchanged.
  """

  def __init__(self, config, inputs, outputs, **kwargs):
    self._config = dict(config)
    self._output_specs = {k: v.get_shape() for k, v in outputs.items()}
    super().__init__(inputs=inputs, outputs=outputs, **kwargs)

  @property
  def output_specs(self):
    """Output name -> static shape."""
    return self._output_specs

  def get_config(self):
    """The constructor's arguments."""
    return dict(self._config)

  @classmethod
  def from_config(cls, config, custom_objects=None):
    """Rebuilds the model from `get_config()`."""
    return cls(**config)
