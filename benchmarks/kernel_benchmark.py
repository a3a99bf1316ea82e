r"""Times gn_keras' group norm against its anchors on ResNet-50's GN shapes.

For each shape, dtype and mode (graph `tf.function`, XLA `jit_compile=True`),
times the forward pass and forward+backward (gradients for x, gamma, beta) of:

  gn_keras   gn_keras.GroupNormalization (Keras 3 layer over gn_keras.ops)
  gn_plain   the same with GN_KERAS_JIT=0: the op's maths not compiled by
             themselves (in graph mode, a dozen unfused ops)
  keras3     keras.layers.GroupNormalization
  tf_keras   tf_keras.layers.GroupNormalization
  bn_fused   tf_keras.layers.BatchNormalization(fused=True), training mode:
             the speed GN should reach (it moves the same bytes)
  floor      x * a + b with per-channel a, b: the memory-bandwidth floor

Implementations run round-robin within each repeat so drifting machine load
hits them alike. The table shows the minimum over repeats and ratios of
minima from this run (medians swing 2-4x on a shared machine; minima do not);
the JSON has minima and medians. `bn_best` is fused BN's better mode (graph
or XLA) for the same shape, dtype and pass, when both modes run.

  python benchmarks/kernel_benchmark.py --batch_sizes=2,8 \
      --shapes=56x56x256,28x28x512,14x14x1024 --passes=fwd+bwd --repeats=41 \
      --output=benchmarks/results/kernel_targets.json
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import keras
import tensorflow as tf
import tf_keras

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
import gn_keras

tf.get_logger().setLevel('ERROR')

RESNET50_GN_SHAPES = ('112x112x64', '56x56x256', '28x28x512', '14x14x1024',
                      '7x7x2048')
IMPLS = ('gn_keras', 'gn_plain', 'keras3', 'tf_keras', 'bn_fused', 'floor')


def make_layer(impl, channels, dtype):
  """Returns a callable x -> y for one implementation, built for `channels`."""
  policy = 'mixed_bfloat16' if dtype == 'bfloat16' else 'float32'
  if impl in ('gn_keras', 'gn_plain'):
    layer = gn_keras.GroupNormalization(groups=32, dtype=policy)
    if impl == 'gn_plain':
      return _without_inner_jit(layer)
  elif impl == 'keras3':
    layer = keras.layers.GroupNormalization(groups=32, dtype=policy)
  elif impl == 'tf_keras':
    layer = tf_keras.layers.GroupNormalization(groups=32, dtype=policy)
  elif impl == 'bn_fused':
    layer = tf_keras.layers.BatchNormalization(fused=True, dtype=policy)
  elif impl == 'floor':
    a = tf.Variable(tf.ones([channels]), name='a')
    b = tf.Variable(tf.zeros([channels]), name='b')
    def floor(x):
      return x * tf.cast(a, x.dtype) + tf.cast(b, x.dtype)
    floor.trainable_variables = [a, b]
    return floor
  else:
    raise ValueError(f'Unknown implementation {impl!r}; known: {IMPLS}.')
  if impl == 'bn_fused':
    return lambda x, layer=layer: layer(x, training=True)
  return layer


def _without_inner_jit(layer):
  """Calls `layer` with GN_KERAS_JIT=0 (read while the step is traced)."""
  def call(x):
    old = os.environ.get('GN_KERAS_JIT')
    os.environ['GN_KERAS_JIT'] = '0'
    try:
      return layer(x)
    finally:
      if old is None:
        del os.environ['GN_KERAS_JIT']
      else:
        os.environ['GN_KERAS_JIT'] = old
  call.layer = layer
  return call


def _variables(fn):
  if hasattr(fn, 'layer'):  # _without_inner_jit's wrapper.
    return fn.layer.trainable_variables
  layer = getattr(fn, '__defaults__', None)
  if layer:  # The bn_fused lambda carries its layer as a default argument.
    return layer[0].trainable_variables
  return fn.trainable_variables


def make_step(fn, x, dy, jit, backward):
  """A compiled step: forward, or forward + gradients for x and weights."""
  fn(x)  # Build the layer's weights outside the traced function.
  variables = list(_variables(fn))

  @tf.function(jit_compile=jit, autograph=False)
  def forward():
    return fn(x)

  @tf.function(jit_compile=jit, autograph=False)
  def forward_backward():
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = fn(x)
    return (y,) + tuple(tape.gradient(y, [x] + variables,
                                      output_gradients=dy))

  return forward_backward if backward else forward


def _run(step):
  outputs = step()
  for t in tf.nest.flatten(outputs):
    t.numpy()  # Wait for the result (and copy it, as every impl does).


def bench_case(shape, dtype, jit, backward, impls, repeats, warmup):
  """{impl: (min ms, median ms)} for one case; None for an impl that failed."""
  x = tf.cast(tf.random.normal(shape, seed=0), dtype)
  dy = tf.cast(tf.random.normal(shape, seed=1), dtype)
  steps, times = {}, {}
  for impl in impls:
    try:
      steps[impl] = make_step(make_layer(impl, shape[-1], dtype), x, dy, jit,
                              backward)
      for _ in range(warmup):
        _run(steps[impl])
      times[impl] = []
    except (tf.errors.OpError, ValueError, TypeError, NotImplementedError) as e:
      print(f'  {impl}: not run ({type(e).__name__}: {str(e)[:80]})',
            file=sys.stderr)
      steps.pop(impl, None)
  for _ in range(repeats):
    for impl, step in steps.items():
      start = time.perf_counter()
      _run(step)
      times[impl].append((time.perf_counter() - start) * 1e3)
  return {impl: (min(times[impl]), statistics.median(times[impl]))
          if impl in times else None for impl in impls}


def _ratio(a, b):
  return None if a is None or b is None else a / b


def main(argv=None):
  """Runs the benchmark; prints the table and writes the JSON."""
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--batch_sizes', default='2,8')
  parser.add_argument('--shapes', default=','.join(RESNET50_GN_SHAPES),
                      help='HxWxC per case, comma-separated.')
  parser.add_argument('--dtypes', default='float32,bfloat16')
  parser.add_argument('--modes', default='graph,xla')
  parser.add_argument('--passes', default='fwd,fwd+bwd')
  parser.add_argument('--impls', default=','.join(IMPLS))
  parser.add_argument('--repeats', type=int, default=41)
  parser.add_argument('--warmup', type=int, default=2)
  parser.add_argument('--output', default='benchmarks/results/kernel.json')
  args = parser.parse_args(argv)
  impls = args.impls.split(',')
  unknown = set(impls) - set(IMPLS)
  if unknown:
    parser.error(f'unknown --impls {sorted(unknown)}; known: {IMPLS}')

  cases = [(n, s, d, m, p) for n in args.batch_sizes.split(',')
           for s in args.shapes.split(',') for d in args.dtypes.split(',')
           for m in args.modes.split(',') for p in args.passes.split(',')]
  ratio_names = ('gn/bn', 'gn/bn_best', 'keras3/gn', 'tf_keras/gn',
                 'plain/gn')
  print(f'TensorFlow {tf.__version__}, Keras {keras.__version__}, '
        f'{platform.processor() or platform.machine()}, '
        f'{os.cpu_count()} CPUs; minima of {args.repeats} interleaved runs, '
        'ms; ratios of minima')
  print(f'{"shape":<18} {"dtype":<8} {"mode":<5} {"pass":<7} ' +
        ' '.join(f'{i:>9}' for i in impls) +
        ''.join(f'{r:>11}' for r in ratio_names))
  results = []
  for i, (n, s, dtype, mode, pass_) in enumerate(cases):
    shape = [int(n)] + [int(d) for d in s.split('x')]
    timed = bench_case(shape, dtype, mode == 'xla', pass_ == 'fwd+bwd',
                       impls, args.repeats, args.warmup)
    minima = {k: None if v is None else v[0] for k, v in timed.items()}
    gn = minima.get('gn_keras')
    # Fused BN's best mode so far for this shape, dtype and pass (the graph
    # row comes first when --modes=graph,xla).
    bn_modes = [r['min_ms'].get('bn_fused') for r in results
                if (r['shape'], r['dtype'], r['passes']) == (
                    shape, dtype, pass_)] + [minima.get('bn_fused')]
    bn_modes = [t for t in bn_modes if t is not None]
    row = dict(shape=shape, dtype=dtype, mode=mode, passes=pass_,
               min_ms=minima,
               median_ms={k: None if v is None else v[1]
                          for k, v in timed.items()},
               gn_over_bn=_ratio(gn, minima.get('bn_fused')),
               gn_over_bn_best=_ratio(gn, min(bn_modes) if bn_modes else None),
               keras3_over_gn=_ratio(minima.get('keras3'), gn),
               tf_keras_over_gn=_ratio(minima.get('tf_keras'), gn),
               plain_over_gn=_ratio(minima.get('gn_plain'), gn))
    results.append(row)
    def fmt(v, width=9):
      return ' ' * (width - 3) + 'n/a' if v is None else f'{v:{width}.2f}'
    print(f'{"x".join(map(str, shape)):<18} {dtype:<8} {mode:<5} {pass_:<7} ' +
          ' '.join(fmt(minima[i]) for i in impls) +
          ''.join(fmt(row[k], 11) for k in (
              'gn_over_bn', 'gn_over_bn_best', 'keras3_over_gn',
              'tf_keras_over_gn', 'plain_over_gn')) +
          f'   [{i + 1}/{len(cases)}]', flush=True)
  os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
  with open(args.output, 'w') as f:
    json.dump(dict(tensorflow=tf.__version__, keras=keras.__version__,
                   cpus=os.cpu_count(), repeats=args.repeats,
                   statistic='min over interleaved repeats (medians beside)',
                   results=results), f, indent=1)
  print(f'Wrote {args.output}')
  return results


if __name__ == '__main__':
  main()
