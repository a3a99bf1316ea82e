"""Keras 3 on JAX: `model.export(path, format='onnx')` (through jax2onnx).

The same checks as the TensorFlow routes (`onnx_checks`).
"""

import keras
import pytest

import gn_keras
from tests.gn_keras import onnx_checks


@pytest.mark.parametrize('data_format', sorted(onnx_checks.SAMPLE_SHAPES))
def test_keras3_export_to_onnx_on_jax_runs_in_onnxruntime(tmp_path,
                                                          data_format):
  model = onnx_checks.model(keras, gn_keras.GroupNormalization, data_format)
  model(onnx_checks.inputs(data_format))  # Keras exports called models only.
  path = str(tmp_path / 'model.onnx')
  model.export(path, format='onnx', verbose=False,
               opset_version=onnx_checks.OPSET)
  onnx_checks.check(path, model.predict_on_batch, data_format)
