r"""Steps/s of one replica step with and without XLA, on 2 CPU replicas.

The Fashion-MNIST study's network (`resnet_gn` with the CIFAR stem, 3
stages, x0.25, G = 8) under MirroredStrategy over 2 logical CPUs, 2 images
per replica, one intra-op thread a replica (as `train.py` sets it): an SGD
step whose forward pass, loss and gradients run either as plain graph ops or
inside a nested `tf.function(jit_compile=True)` (the update stays outside:
the gradients' all-reduce cannot be compiled). Each mode runs in its own
subprocess, the modes taking turns `--repeats` times; a run's figure is 300
steps after 10 of warm-up. Time it on a quiet machine. Writes JSON.

  python benchmarks/replica_step_xla.py \
      --output=benchmarks/results/replica_step_xla.json
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
MODES = ('plain', 'xla')


def run_mode(mode: str, norm: str, steps: int) -> float:
  """In the subprocess: steps/s of `steps` replica steps in `mode`."""
  sys.path.insert(0, REPO)
  import tensorflow as tf  # noqa: PLC0415 (after the CPU split is chosen)
  import tf_keras  # noqa: PLC0415
  cpu = tf.config.list_physical_devices('CPU')[0]
  tf.config.set_logical_device_configuration(
      cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
  tf.config.threading.set_intra_op_parallelism_threads(1)
  from official.projects.group_norm.modeling import resnet_gn  # noqa: PLC0415
  strategy = tf.distribute.MirroredStrategy(
      ['/cpu:0', '/cpu:1'],
      cross_device_ops=tf.distribute.ReductionToOneDevice())
  with strategy.scope():
    backbone = resnet_gn.ResNetGN(
        18, input_specs=tf_keras.layers.InputSpec(shape=[None, 32, 32, 3]),
        norm=norm, depth_multiplier=0.25, groups=8, stem_type='cifar',
        num_stages=3)
    images = tf_keras.Input([32, 32, 3])
    logits = tf_keras.layers.Dense(10)(
        tf_keras.layers.GlobalAveragePooling2D()(backbone(images)['4']))
    model = tf_keras.Model(images, logits)
    optimizer = tf_keras.optimizers.SGD(0.01, momentum=0.9)

  def gradients(x, y):
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(tf_keras.losses.sparse_categorical_crossentropy(
          y, model(x, training=True), from_logits=True)) / 2
    return tape.gradient(loss, model.trainable_variables)

  compiled = tf.function(gradients, jit_compile=True)

  def step(x, y):
    grads = compiled(x, y) if mode == 'xla' else gradients(x, y)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))

  @tf.function
  def loop(x, y, n):
    for _ in tf.range(n):
      strategy.run(step, args=(x, y))

  x = tf.random.normal([4, 32, 32, 3])
  y = tf.constant([1, 2, 3, 4])
  xs, ys = strategy.experimental_distribute_values_from_function(
      lambda ctx: (x[:2], y[:2]))
  loop(xs, ys, 10)
  start = time.perf_counter()
  loop(xs, ys, steps)
  return steps / (time.perf_counter() - start)


def main() -> None:
  """Runs the modes in turn in subprocesses; prints and writes the table."""
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--norm', default='group_norm')
  parser.add_argument('--steps', type=int, default=300)
  parser.add_argument('--repeats', type=int, default=1)
  parser.add_argument('--output', default=None)
  parser.add_argument('--child', choices=MODES, help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.child:
    print(run_mode(args.child, args.norm, args.steps))
    return
  rates = {mode: [] for mode in MODES}
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  for _ in range(args.repeats):
    for mode in MODES:
      out = subprocess.run(
          [sys.executable, __file__, f'--child={mode}', f'--norm={args.norm}',
           f'--steps={args.steps}'], env=env, capture_output=True, text=True,
          check=True)
      rates[mode].append(float(out.stdout.strip().splitlines()[-1]))
  medians = {mode: statistics.median(v) for mode, v in rates.items()}
  result = {'norm': args.norm, 'images_per_replica': 2, 'replicas': 2,
            'steps': args.steps, 'steps_per_s': rates,
            'median_steps_per_s': medians,
            'xla_over_plain': medians['xla'] / medians['plain']}
  print(f'{args.norm}: plain {medians["plain"]:.1f} steps/s, XLA '
        f'{medians["xla"]:.1f} steps/s, x{result["xla_over_plain"]:.2f}')
  if args.output:
    with open(args.output, 'w') as f:
      json.dump(result, f, indent=1)
      f.write('\n')


if __name__ == '__main__':
  main()
