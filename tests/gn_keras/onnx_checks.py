"""What every ONNX export route is checked against (no backend imported).

Shared by test_onnx.py (TensorFlow: Keras 3 and tf2onnx) and
jax/test_jax_onnx.py (Keras 3 on JAX).
"""

import numpy as np
import onnxruntime

OPSET = 17
SAMPLE_SHAPES = {'channels_last': (5, 6, 8), 'channels_first': (8, 5, 6)}


def model(keras_module, gn_class, data_format):
  """Two GN layers (groups, then group size) on a rank-4 input."""
  axis = -1 if data_format == 'channels_last' else 1
  inputs = keras_module.Input(SAMPLE_SHAPES[data_format])
  x = gn_class(groups=4, axis=axis, activation='relu',
               gamma_initializer='random_uniform',
               beta_initializer='random_normal')(inputs)
  x = gn_class(groups=None, group_size=2, axis=axis,
               gamma_initializer='random_uniform')(x)
  return keras_module.Model(inputs, x)


def inputs(data_format, batch=3):
  """Inputs far from zero mean and unit spread."""
  shape = (batch, *SAMPLE_SHAPES[data_format])
  return np.random.default_rng(0).normal(2.0, 3.0, shape).astype('float32')


def check(onnx_model, predict, data_format):
  """Runs an ONNX model at batches 1 and 3 against `predict` to 1e-5.

  Args:
    onnx_model: A path, serialized bytes, or an `onnx.ModelProto`.
    predict: The reference: numpy inputs to outputs (the Keras model).
    data_format: A key of SAMPLE_SHAPES.
  """
  if not isinstance(onnx_model, (bytes, str)):
    onnx_model = onnx_model.SerializeToString()
  session = onnxruntime.InferenceSession(
      onnx_model, providers=['CPUExecutionProvider'])
  (onnx_input,) = session.get_inputs()
  assert not isinstance(onnx_input.shape[0], int), onnx_input.shape
  for batch in (1, 3):
    x = inputs(data_format, batch)
    (y,) = session.run(None, {onnx_input.name: x})
    np.testing.assert_allclose(y, np.asarray(predict(x)), atol=1e-5, rtol=0)
