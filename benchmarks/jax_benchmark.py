r"""Times the Keras 3 layer on the JAX backend against Keras' own GN and BN.

Forward+backward (gradients for x, gamma and beta), `jax.jit`-compiled, of:

  gn_keras   gn_keras.GroupNormalization (over gn_keras.jax_ops)
  keras_gn   keras.layers.GroupNormalization
  keras_bn   keras.layers.BatchNormalization, training mode: the speed to reach

each called through `stateless_call`, at ResNet-50's GN shapes. Within each
repeat the implementations run round-robin, so drifting load hits them alike;
the table and JSON report the minimum over repeats (stable on a shared
machine, where medians swing), medians beside it, and ratios of minima from
this run. Needs no TensorFlow: it runs on a GPU machine that has only JAX.

  KERAS_BACKEND=jax python benchmarks/jax_benchmark.py --batch_sizes=2,8 \
      --dtypes=float32,bfloat16 --output=benchmarks/results/jax_cpu.json
"""

import os
import sys

os.environ['KERAS_BACKEND'] = 'jax'

import jax
import jax.numpy as jnp
import keras

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
import interleave

import gn_keras

RESNET50_GN_SHAPES = ('112x112x64', '56x56x256', '28x28x512', '14x14x1024',
                      '7x7x2048')
IMPLS = ('gn_keras', 'keras_gn', 'keras_bn')


def make_layer(impl, dtype):
  """A fresh layer of implementation `impl` under `dtype`'s policy."""
  policy = 'mixed_bfloat16' if dtype == 'bfloat16' else 'float32'
  if impl == 'gn_keras':
    return gn_keras.GroupNormalization(groups=32, dtype=policy)
  if impl == 'keras_gn':
    return keras.layers.GroupNormalization(groups=32, dtype=policy)
  if impl == 'keras_bn':
    return keras.layers.BatchNormalization(dtype=policy)
  raise ValueError(f'Unknown implementation {impl!r}; known: {IMPLS}.')


def make_step(layer, x):
  """A jitted forward+backward of `layer` at x: grads for x and weights.

  Only BN takes `training` (GN layers compute the same thing either way).
  """
  layer.build(x.shape)
  trainable = [v.value for v in layer.trainable_variables]
  non_trainable = [v.value for v in layer.non_trainable_variables]
  kwargs = ({'training': True}
            if isinstance(layer, keras.layers.BatchNormalization) else {})

  def loss(trainable, x):
    y, _ = layer.stateless_call(trainable, non_trainable, x, **kwargs)
    # A fixed random-like cotangent: sin keeps the gradient dense.
    return jnp.sum(jnp.sin(y.astype(jnp.float32)))

  step = jax.jit(jax.grad(loss, argnums=(0, 1)))
  return lambda: jax.block_until_ready(step(trainable, x))


def time_case(shape, batch, dtype, repeats, warmup):
  """Minimum and median ms of each implementation, interleaved."""
  key = jax.random.PRNGKey(0)
  x = jax.random.normal(key, (batch, *shape), jnp.float32) * 2.0 + 1.0
  x = x.astype(dtype)
  steps = {impl: make_step(make_layer(impl, dtype), x) for impl in IMPLS}
  return interleave.minima(steps, repeats, warmup)


def main(argv=None):
  """Runs the cases the flags ask for; prints the table, writes the JSON."""
  args = interleave.case_parser(__doc__, 41, RESNET50_GN_SHAPES).parse_args(
      argv)
  device = jax.devices()[0]
  about = (f'JAX {jax.__version__} on {device.platform}: '
           f'{device.device_kind}; Keras {keras.__version__}')
  ratios = {'gn/bn': ('gn_keras', 'keras_bn'),
            'gn/keras_gn': ('gn_keras', 'keras_gn')}
  table = interleave.Table(about, args.repeats, 'jit', 28, IMPLS, ratios)
  for dtype in args.dtypes.split(','):
    for batch in (int(b) for b in args.batch_sizes.split(',')):
      for spec in args.shapes.split(','):
        shape = tuple(int(d) for d in spec.split('x'))
        result = time_case(shape, batch, dtype, args.repeats, args.warmup)
        table.add(f'{batch}x{spec} {dtype}',
                  {'shape': f'{batch}x{spec}', 'dtype': dtype}, result)
  interleave.write_results(
      args.output, table.rows,
      device=f'{device.platform}: {device.device_kind}', jax=jax.__version__,
      keras=keras.__version__, repeats=args.repeats)
  return 0


if __name__ == '__main__':
  sys.exit(main())
