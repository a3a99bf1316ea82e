"""The layer spec every flavour must pass (Keras 3 and tf_keras today).

Each test takes the `flavour` fixture (conftest.py), which runs it once per
entry of `flavours.FLAVOURS`, so all layers are held to one spec. The module
imports no backend: the checks that need TensorFlow itself import it inside
and are marked `tensorflow`; the JAX backend's run deselects them and checks
the same there in tests/gn_keras/jax/test_jax_layer.py.
"""

import numpy as np
import pytest

from tests.gn_keras.reference import MIXED_POLICIES
from tests.gn_keras.reference import global_policy
from tests.gn_keras.reference import random_affine_layer
from tests.gn_keras.reference import reference
from tests.gn_keras.reference import sample


def _dtype_name(dtype) -> str:
  """'float16' of a TensorFlow, NumPy, JAX or torch dtype (torch.float16)."""
  return getattr(dtype, 'name', str(dtype).rsplit('.', 1)[-1])




def _model(flavour, layer, shape=(6, 6, 8)):
  inputs = flavour.keras.Input(shape)
  return flavour.keras.Model(inputs, layer(inputs))


def test_config_after_build_is_exactly_the_constructor_arguments(flavour):
  args = dict(groups=None, group_size=2, axis=1, epsilon=1e-3, center=False,
              scale=True, activation='relu', name='gn')
  layer = flavour.layer(**args)
  layer.build((None, 8, 5, 5))
  config = layer.get_config()
  assert {k: config[k] for k in args} == args
  clone = flavour.layer.from_config(config)
  assert clone.get_config() == config
  assert flavour.layer().get_config()['groups'] == 32
  assert flavour.layer().get_config()['activation'] is None


def test_weights_are_float32_gamma_then_beta(flavour):
  layer = flavour.layer(groups=2)
  layer.build((None, 4, 4, 8))
  assert [w.shape for w in layer.weights] == [(8,), (8,)]
  assert [w.name.split('/')[-1].split(':')[0] for w in layer.weights] == [
      flavour.weight_prefix + 'gamma', flavour.weight_prefix + 'beta']
  assert layer.gamma is layer.weights[0] and layer.beta is layer.weights[1]
  assert all(_dtype_name(w.dtype) == 'float32' for w in layer.weights)
  for center, scale, count in ((False, True, 1), (True, False, 1),
                               (False, False, 0)):
    layer = flavour.layer(groups=2, center=center, scale=scale)
    layer.build((None, 8))
    assert len(layer.trainable_weights) == count


@pytest.mark.parametrize('axis,shape', [(-1, (3, 8)), (-1, (3, 5, 8)),
                                        (-1, (3, 4, 4, 8)),
                                        (1, (3, 8, 4, 4)),
                                        (-1, (3, 2, 3, 4, 8))])
def test_eager_and_symbolic_calls_match_reference(flavour, axis, shape):
  x = sample(shape)
  gamma, beta = sample((8,), 0.0), sample((8,), 0.0)
  layer = flavour.layer(groups=4, axis=axis)
  layer.build(shape)
  layer.set_weights([gamma, beta])
  expected = reference(x, 4, gamma, beta, axis=axis)
  np.testing.assert_allclose(flavour.numpy(layer(x)), expected, atol=3e-5)
  model = _model(flavour, layer, shape[1:])
  np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=3e-5)
  assert tuple(layer.compute_output_shape(shape)) == shape


def test_compute_output_shape_of_a_new_layer(flavour):
  layer = flavour.layer(groups=2)
  assert tuple(layer.compute_output_shape((None, 4, 4, 8))) == (None, 4, 4, 8)
  # tf_keras' contract (and tensorflow-addons' layer): it builds the layer.
  assert layer.built == (flavour.keras.__name__ == 'tf_keras')


def test_activation_applies_in_the_layer(flavour):
  x = sample()
  plain = flavour.layer(groups=2)
  relu = flavour.layer(groups=2, activation='relu')
  np.testing.assert_allclose(flavour.numpy(relu(x)),
                             np.maximum(flavour.numpy(plain(x)), 0), atol=1e-6)


def test_fit_trains_gamma_and_beta(flavour):
  keras = flavour.keras
  model = keras.Sequential([
      keras.Input((6, 6, 8)),
      flavour.layer(groups=4, gamma_regularizer=keras.regularizers.L2(1e-3)),
      keras.layers.GlobalAveragePooling2D(),
      keras.layers.Dense(1)])
  model.compile(optimizer=keras.optimizers.SGD(0.1), loss='mse')
  before = [w.copy() for w in model.layers[0].get_weights()]
  x, y = sample((8, 6, 6, 8)), sample((8, 1), 0.0)
  history = model.fit(x, y, batch_size=2, epochs=2, verbose=0)
  assert np.all(np.isfinite(history.history['loss']))
  assert model.losses  # The regularizer is counted.
  for old, new in zip(before, model.layers[0].get_weights()):
    assert not np.allclose(old, new)


def test_constraints_are_applied_after_updates(flavour):
  keras = flavour.keras
  layer = flavour.layer(groups=2, gamma_constraint=keras.constraints.NonNeg())
  model = keras.Sequential([keras.Input((4, 4, 8)), layer,
                            keras.layers.GlobalAveragePooling2D()])
  model.compile(optimizer=keras.optimizers.SGD(10.0), loss='mse')
  model.fit(sample((4, 4, 4, 8)), np.full((4, 8), 5.0, 'float32'), verbose=0)
  assert np.all(layer.get_weights()[0] >= 0)


@MIXED_POLICIES
def test_mixed_precision_keeps_float32_weights_and_stats(flavour, policy,
                                                         compute):
  atol = 0.05 if compute == 'bfloat16' else 5e-3  # The output's rounding.
  with global_policy(flavour.set_policy, policy):
    layer = flavour.layer(groups=2)
    # Statistics in float16 would lose the spread here; 7e4 is float16's inf.
    for loc in (300.0, 7e4):
      x = sample(loc=loc)
      y = layer(x)  # A float32 input reaches the statistics unrounded.
      assert _dtype_name(y.dtype) == compute
      np.testing.assert_allclose(
          np.asarray(flavour.numpy(y), np.float64), reference(x, 2),
          atol=atol, err_msg=f'loc={loc}')
    assert all(_dtype_name(w.dtype) == 'float32' for w in layer.weights)


@pytest.mark.tensorflow
@MIXED_POLICIES
def test_mixed_precision_low_inputs_and_float32_gradients(flavour, policy,
                                                          compute):
  import tensorflow as tf  # noqa: PLC0415 (see the module docstring)
  x_low = tf.cast(sample(loc=300.0), compute)  # Already in the compute dtype.
  with global_policy(flavour.set_policy, policy):
    layer = flavour.layer(groups=2)
    np.testing.assert_allclose(
        tf.cast(layer(x_low), tf.float64),
        reference(tf.cast(x_low, tf.float64).numpy(), 2),
        atol=0.05 if compute == 'bfloat16' else 5e-3)
    with tf.GradientTape() as tape:
      loss = tf.reduce_sum(tf.cast(layer(sample()), tf.float32))
    grads = tape.gradient(loss, layer.trainable_weights)
    assert all(g.dtype == tf.float32 for g in grads)


def test_matches_the_keras_own_group_normalization(flavour):
  x = sample((2, 6, 6, 16))
  ours = flavour.layer(groups=4, epsilon=1e-3)
  theirs = flavour.keras.layers.GroupNormalization(groups=4, epsilon=1e-3)
  np.testing.assert_allclose(flavour.numpy(ours(x)),
                             flavour.numpy(theirs(x)), atol=1e-4)


def test_convert_batch_norm_keeps_the_batch_norm_epsilon(flavour):
  import gn_keras  # noqa: PLC0415 (see the module docstring)
  model = flavour.keras.Sequential([
      flavour.keras.Input((6, 6, 8)),
      flavour.keras.layers.BatchNormalization(name='bn')])
  converted = gn_keras.convert_batch_norm(model, groups=4)
  assert isinstance(converted.get_layer('bn'), flavour.layer)
  x = sample()
  np.testing.assert_allclose(flavour.numpy(converted(x)),
                             reference(x, 4, epsilon=1e-3), atol=2e-5)


def test_save_and_load_round_trips(flavour, tmp_path):
  layer = flavour.layer(groups=4, activation='silu',
                        beta_initializer='random_normal',
                        gamma_initializer='random_uniform')
  model = _model(flavour, layer)
  x = sample()
  expected = model.predict(x, verbose=0)
  for suffix in flavour.save_formats:
    path = str(tmp_path / f'model{suffix}')
    model.save(path)
    loaded = flavour.keras.models.load_model(path)
    loaded_layer = loaded.layers[-1]
    assert isinstance(loaded_layer, flavour.layer), suffix
    assert loaded_layer.get_config() == layer.get_config()
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected,
                               atol=1e-6, err_msg=suffix)


@pytest.mark.tensorflow
def test_tf_saved_model_serves_identical_outputs(flavour, tmp_path):
  import tensorflow as tf  # noqa: PLC0415 (see the module docstring)
  model = _model(flavour, flavour.layer(groups=2, activation='relu'))
  x = sample()
  expected = model(x)
  path = str(tmp_path / 'saved_model')
  serve = tf.function(lambda t: model(t, training=False), input_signature=[
      tf.TensorSpec([None, 6, 6, 8], tf.float32)])
  tf.saved_model.save(model, path, signatures={'serving_default': serve})
  loaded = tf.saved_model.load(path)
  outputs = loaded.signatures['serving_default'](tf.constant(x))
  np.testing.assert_allclose(list(outputs.values())[0], expected, atol=1e-6)


@pytest.mark.tensorflow
def test_layer_builds_inside_xla_function(flavour):
  import tensorflow as tf  # noqa: PLC0415 (see the module docstring)
  layer = flavour.layer(groups=2)
  x = sample()
  np.testing.assert_allclose(
      tf.function(layer, jit_compile=True)(x), layer(x), atol=1e-5)


@pytest.mark.parametrize('kwargs,message', [
    (dict(groups=3), r'channels \(8\) must be a multiple of `groups`; received '
     r'groups=3'),
    (dict(groups=16), r'`groups`=16 cannot be more than the number of '
     r'channels; received 8'),
    (dict(axis=5), r'`axis` must be in \[-4, 4\) for inputs of rank 4; '
     r'received axis=5'),
])
def test_bad_shapes_raise_at_build(flavour, kwargs, message):
  with pytest.raises(ValueError, match=message):
    flavour.layer(**kwargs).build((None, 4, 4, 8))


@pytest.mark.parametrize('kwargs,message', [
    (dict(groups=2, group_size=4), r'exactly one of `groups` and `group_size`;'
     r' received groups=2 and group_size=4'),
    (dict(groups=0), r'received groups=0'),
    (dict(epsilon=0.0), r'`epsilon` must be positive; received epsilon=0.0'),
    (dict(axis='last'), r"`axis` must be an integer; received axis='last'"),
    (dict(axis=0), r'`axis` is the channel axis and cannot be 0, the batch '
     r'axis; received axis=0\.'),
])
def test_bad_arguments_raise_at_construction(flavour, kwargs, message):
  with pytest.raises(ValueError, match=message):
    flavour.layer(**kwargs)


def test_unknown_channel_dim_raises(flavour):
  with pytest.raises(ValueError, match=r'channel dimension \(axis -1\) of the '
                     r'inputs must be known; received input shape '
                     r'\(None, 4, None\)'):
    flavour.layer(groups=2).build((None, 4, None))


def test_rank_1_input_raises(flavour):
  with pytest.raises(ValueError, match='rank 2 to 5.*received rank 1'):
    flavour.layer(groups=2).build((8,))


def test_docstring_example_runs(flavour):
  # The example in the docstring, with this flavour's class.
  layer = flavour.layer(groups=4)
  assert tuple(layer(np.ones((2, 8, 8, 16), 'float32')).shape) == (2, 8, 8, 16)
  assert 'groups=1' in flavour.layer.__doc__
  assert 'Reference:' in flavour.layer.__doc__



@pytest.mark.tensorflow
def test_second_order_gradients_match_a_float64_reference(flavour):
  import tensorflow as tf  # noqa: PLC0415 (see the module docstring)
  layer, x, gamma, beta = random_affine_layer(flavour.layer)

  def reference(t):
    grouped = tf.reshape(t, [2, -1, 4, 2])
    mean = tf.reduce_mean(grouped, axis=[1, 3], keepdims=True)
    var = tf.reduce_mean(tf.square(grouped - mean), axis=[1, 3],
                         keepdims=True)
    y = tf.reshape((grouped - mean) * tf.math.rsqrt(var + 1e-5), t.shape)
    return y * gamma + beta

  def penalty_gradient(norm, t):
    with tf.GradientTape() as outer:
      outer.watch(t)
      with tf.GradientTape() as inner:
        inner.watch(t)
        loss = tf.reduce_sum(tf.sin(norm(t)))
      penalty = tf.reduce_sum(tf.square(inner.gradient(loss, t)))
    return outer.gradient(penalty, t)

  expected = penalty_gradient(reference, tf.constant(x, tf.float64))
  for run in (penalty_gradient,
              tf.function(penalty_gradient, jit_compile=True)):
    got = run(layer, tf.constant(x))
    np.testing.assert_allclose(got, expected, atol=1e-5 * float(
        tf.reduce_max(tf.abs(expected))))


def test_masks_from_the_model_reach_the_statistics_and_pass_on(flavour):
  keras = flavour.keras
  x = sample((2, 5, 8), loc=2.0)
  x[1, 3:] = 0.0  # Padding, as keras.layers.Masking(0.0) marks it.
  inputs = keras.Input((5, 8))
  masked = keras.layers.Masking(0.0)(inputs)
  layer = flavour.layer(groups=2)
  normalized = layer(masked)
  # A layer after ours still sees the mask: the last step kept is output.
  last = keras.layers.LSTM(
      3, return_sequences=True, kernel_initializer='ones',
      recurrent_initializer='zeros')(normalized)
  model = keras.Model(inputs, [normalized, last])
  outputs, sequence = model.predict(x, verbose=0)
  np.testing.assert_allclose(outputs[0], reference(x[:1], 2)[0], atol=3e-5)
  np.testing.assert_allclose(outputs[1, :3], reference(x[1:, :3], 2)[0],
                             atol=3e-5)
  np.testing.assert_allclose(sequence[1, 3:], sequence[1, 2:3].repeat(2, 0),
                             atol=1e-6)  # Masked steps carry the state over.
  mask = np.array([[True] * 5, [True] * 3 + [False] * 2])
  np.testing.assert_allclose(flavour.numpy(layer(x, mask=mask)), outputs,
                             atol=3e-5)
