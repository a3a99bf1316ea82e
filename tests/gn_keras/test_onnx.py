"""Models holding GN export to ONNX along every route a user takes.

Keras 3 `model.export(path, format='onnx')` (TensorFlow backend here; the JAX
backend's in jax/test_jax_onnx.py), and tf2onnx's `from_keras` and
`from_function` for tf_keras models and plain `tf.function`s. Each file must
load in onnxruntime and equal Keras to 1e-5, channels-last and
channels-first, at any batch size (`onnx_checks`).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tf2onnx
import tf_keras

import gn_keras
from gn_keras import ops
from gn_keras import tf_keras as gn_tf_keras
from tests.gn_keras import onnx_checks
from tests.gn_keras.onnx_checks import OPSET
from tests.gn_keras.onnx_checks import SAMPLE_SHAPES

pytestmark = pytest.mark.slow

FORMATS = sorted(SAMPLE_SHAPES)
CALLS = {'PartitionedCall', 'StatefulPartitionedCall'}


def _signature(data_format):
  return (tf.TensorSpec((None, *SAMPLE_SHAPES[data_format]), tf.float32,
                        name='x'),)


def _predict(model):
  return lambda x: model(x, training=False)


@pytest.mark.parametrize('data_format', FORMATS)
def test_keras3_export_to_onnx_runs_in_onnxruntime(tmp_path, data_format):
  model = onnx_checks.model(keras, gn_keras.GroupNormalization, data_format)
  model(onnx_checks.inputs(data_format))  # Keras exports called models only.
  path = str(tmp_path / 'model.onnx')
  model.export(path, format='onnx', verbose=False, opset_version=OPSET)
  onnx_checks.check(path, _predict(model), data_format)


def _tf2onnx_from_keras(model, signature):
  return tf2onnx.convert.from_keras(model, input_signature=signature,
                                    opset=OPSET)[0]


def _tf2onnx_from_function(model, signature):
  return tf2onnx.convert.from_function(
      tf.function(_predict(model)), input_signature=signature, opset=OPSET)[0]


@pytest.mark.parametrize('data_format', FORMATS)
@pytest.mark.parametrize('convert', [_tf2onnx_from_keras,
                                     _tf2onnx_from_function])
def test_tf2onnx_converts_a_tf_keras_model(convert, data_format):
  model = onnx_checks.model(tf_keras, gn_tf_keras.GroupNormalization,
                            data_format)
  onnx_checks.check(convert(model, _signature(data_format)), _predict(model),
                    data_format)


def test_tf2onnx_from_function_converts_the_plain_op():
  gamma = np.linspace(0.5, 1.5, 8).astype('float32')

  def normalize(x):
    return ops.group_norm(x, groups=2, gamma=gamma, axis=1, epsilon=1e-3)

  onnx_model, _ = tf2onnx.convert.from_function(
      tf.function(normalize), input_signature=_signature('channels_first'),
      opset=OPSET)
  onnx_checks.check(onnx_model, normalize, 'channels_first')


def _graph_ops(spec):
  normalize = tf.function(lambda t: ops.group_norm(t, groups=2))
  return {node.op for node in
          normalize.get_concrete_function(spec).graph.as_graph_def().node}


def test_only_export_traces_leave_out_the_compiled_inner_function():
  """The control: outside an export, the op still compiles its maths."""
  spec = tf.TensorSpec((None, 4, 8), tf.float32)
  assert _graph_ops(spec) & CALLS
  with ops.for_export():
    assert not _graph_ops(spec) & CALLS
