"""Test-session set-up shared by every test module."""

import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import tensorflow as tf  # pylint: disable=g-import-not-at-top

# Two logical CPU devices so MirroredStrategy runs real replicas here. This
# must happen before TensorFlow initialises its devices, i.e. at collection.
_cpus = tf.config.list_physical_devices('CPU')
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)
