"""Test-session set-up shared by every test module."""

import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

# The JAX backend's run (tests/gn_keras/test_jax_backend.py) imports no
# TensorFlow: that is one of the things it checks.
if os.environ.get('KERAS_BACKEND') != 'jax':
  import tensorflow as tf

  # Two logical CPU devices so MirroredStrategy runs real replicas here. This
  # must happen before TensorFlow initialises its devices, i.e. at collection.
  _cpus = tf.config.list_physical_devices('CPU')
  tf.config.set_logical_device_configuration(
      _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)
