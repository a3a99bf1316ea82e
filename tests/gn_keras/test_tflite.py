"""Models holding GN convert to TFLite with built-in ops, rank 4 at most.

The route the README gives: export a SavedModel (Keras 3 `model.export`, or
`tf.saved_model.save` for tf_keras), then `TFLiteConverter.from_saved_model`.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tf_keras

import gn_keras
from gn_keras import datasets
from gn_keras import demo
from gn_keras import tf_keras as gn_tf_keras

SHAPE_OPS = {'SHAPE', 'STRIDED_SLICE', 'PACK', 'FILL'}


def _model(keras_module, gn_class):
  """Conv -> GN (relu) -> pooling -> dense, in the given Keras flavour."""
  layers = keras_module.layers
  inputs = keras_module.Input((8, 8, 3))
  x = layers.Conv2D(16, 3, padding='same', use_bias=False)(inputs)
  x = gn_class(groups=4, activation='relu', gamma_initializer='random_uniform',
               beta_initializer='random_normal')(x)
  x = layers.GlobalAveragePooling2D()(x)
  return keras_module.Model(inputs, layers.Dense(10)(x))


def _saved_model(model, path):
  if isinstance(model, keras.Model):
    model.export(path, verbose=False)
  else:
    serve = tf.function(lambda x: model(x, training=False), input_signature=[
        tf.TensorSpec([None, *model.input_shape[1:]], tf.float32)])
    tf.saved_model.save(model, path, signatures={'serving_default': serve})
  return path


def _convert(saved_model_dir, quantization=None):
  converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
  converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
  if quantization:
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
  if quantization == 'float16':
    converter.target_spec.supported_types = [tf.float16]
  return converter.convert()


def _run(flatbuffer, x):
  interpreter = tf.lite.Interpreter(model_content=flatbuffer)
  index = interpreter.get_input_details()[0]['index']
  interpreter.resize_tensor_input(index, list(x.shape))
  interpreter.allocate_tensors()
  interpreter.set_tensor(index, x)
  interpreter.invoke()
  output = interpreter.get_tensor(interpreter.get_output_details()[0]['index'])
  ops = {op['op_name'] for op in interpreter._get_ops_details()}  # noqa: SLF001
  ranks = {len(t['shape']) for t in interpreter.get_tensor_details()}
  return output, ops, ranks


@pytest.mark.parametrize('keras_flavour', ['keras3', 'tf_keras'])
def test_converts_with_builtins_rank_4_and_no_shape_ops(keras_flavour,
                                                        tmp_path):
  model = (_model(keras, gn_keras.GroupNormalization)
           if keras_flavour == 'keras3'
           else _model(tf_keras, gn_tf_keras.GroupNormalization))
  x = np.random.default_rng(0).normal(size=(3, 8, 8, 3)).astype('float32')
  expected = np.asarray(model(x))
  saved = _saved_model(model, str(tmp_path / 'saved_model'))
  output, ops, ranks = _run(_convert(saved), x)
  assert not ops & SHAPE_OPS, ops
  assert not ops & {'BATCH_MATMUL'}, ops  # Exact on any delegate.
  assert max(ranks) <= 4, ranks
  np.testing.assert_allclose(output, expected, atol=1e-5)
  half, _, _ = _run(_convert(saved, 'float16'), x)
  np.testing.assert_allclose(half, expected, atol=1e-2)


@pytest.mark.slow
def test_dynamic_range_quantization_keeps_the_digits_predictions(tmp_path):
  x_train, y_train, x_val, y_val = datasets.load_digits()
  keras.utils.set_random_seed(0)
  model = demo.build_model()
  model.compile(optimizer=keras.optimizers.Adam(3e-3),
                loss=keras.losses.SparseCategoricalCrossentropy(
                    from_logits=True))
  model.fit(x_train, y_train, batch_size=32, epochs=4, verbose=0)
  expected = np.argmax(model.predict(x_val, verbose=0), axis=-1)
  assert np.mean(expected == y_val) > 0.9  # A model worth agreeing with.
  saved = _saved_model(model, str(tmp_path / 'saved_model'))
  logits, ops, _ = _run(_convert(saved, 'dynamic_range'), x_val)
  assert not ops & SHAPE_OPS, ops
  agreement = np.mean(np.argmax(logits, axis=-1) == expected)
  assert agreement >= 0.99, agreement
