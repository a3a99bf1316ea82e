r"""ONNX's own GroupNormalization operator against the graph our export writes.

Our layer exports (tf2onnx, `tests/gn_keras/test_onnx.py`) as GN decomposed
into standard ops. ONNX has a GroupNormalization operator (opset 21: one
scale and bias per channel), which tf2onnx 1.17 cannot write: its opsets stop
at 18, where the operator took one scale per group. This script writes both
(ours at opset 18, the operator by hand at 21) for one channels-first
input, checks that onnxruntime runs both and that they agree with Keras, and
times them in onnxruntime (minimum over interleaved repeats, 1 thread).

  python benchmarks/onnx_group_norm.py --output=benchmarks/results/onnx_cpu.json
"""

import argparse
import json
import platform
import sys
import time

import numpy as np
import onnx
from onnx import helper
import onnxruntime
import tensorflow as tf
import tf2onnx
import tf_keras

from gn_keras import tf_keras as gn_tf_keras

GROUPS = 32


def decomposed(shape, gamma, beta):
  """Our layer's model through tf2onnx, and the layer (channels first)."""
  inputs = tf_keras.Input(shape[1:])
  layer = gn_tf_keras.GroupNormalization(groups=GROUPS, axis=1)
  model = tf_keras.Model(inputs, layer(inputs))
  layer.set_weights([gamma, beta])
  spec = (tf.TensorSpec((None, *shape[1:]), tf.float32, name='x'),)
  # tf2onnx 1.17 writes opsets up to 18 (21 raises 'not supported yet').
  proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=18)
  return proto, model


def native(shape, gamma, beta):
  """One ONNX GroupNormalization node (opset 21)."""
  channels = shape[1]
  node = helper.make_node('GroupNormalization', ['x', 'scale', 'bias'], ['y'],
                          num_groups=GROUPS, epsilon=1e-5)
  graph = helper.make_graph(
      [node], 'group_norm',
      [helper.make_tensor_value_info('x', onnx.TensorProto.FLOAT,
                                     ['batch', *shape[1:]])],
      [helper.make_tensor_value_info('y', onnx.TensorProto.FLOAT,
                                     ['batch', *shape[1:]])],
      [helper.make_tensor('scale', onnx.TensorProto.FLOAT, [channels], gamma),
       helper.make_tensor('bias', onnx.TensorProto.FLOAT, [channels], beta)])
  return helper.make_model(graph, opset_imports=[helper.make_opsetid('', 21)])


def session(proto):
  """An onnxruntime CPU session on one thread."""
  options = onnxruntime.SessionOptions()
  options.intra_op_num_threads = 1
  return onnxruntime.InferenceSession(proto.SerializeToString(), options,
                                      providers=['CPUExecutionProvider'])


def main(argv=None):
  """Writes both graphs, checks them, times them; prints and writes JSON."""
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--shape', default='8x256x56x56', help='NxCxHxW')
  parser.add_argument('--repeats', type=int, default=51)
  parser.add_argument('--output', default=None)
  args = parser.parse_args(argv)
  shape = tuple(int(d) for d in args.shape.split('x'))
  rng = np.random.default_rng(0)
  gamma = rng.uniform(0.5, 1.5, shape[1]).astype(np.float32)
  beta = rng.normal(size=shape[1]).astype(np.float32)
  x = rng.normal(2.0, 3.0, shape).astype(np.float32)
  ours_proto, model = decomposed(shape, gamma, beta)
  sessions = {'decomposed': session(ours_proto),
              'onnx_group_norm': session(native(shape, gamma, beta))}
  expected = model(x).numpy()
  errors, times = {}, {name: [] for name in sessions}
  for name, s in sessions.items():
    errors[name] = float(np.abs(s.run(None, {'x': x})[0] - expected).max())
  for _ in range(args.repeats):
    for name, s in sessions.items():
      start = time.perf_counter()
      s.run(None, {'x': x})
      times[name].append((time.perf_counter() - start) * 1e3)
  ops = sorted({node.op_type for node in ours_proto.graph.node})
  result = {
      'shape': args.shape, 'onnxruntime': onnxruntime.__version__,
      'host': platform.node(), 'threads': 1, 'repeats': args.repeats,
      'decomposed_ops': ops, 'max_abs_error_vs_keras': errors,
      'min_ms': {name: min(t) for name, t in times.items()},
      'statistic': 'min over interleaved repeats'}
  result['native_over_decomposed'] = (result['min_ms']['onnx_group_norm'] /
                                      result['min_ms']['decomposed'])
  print(json.dumps(result, indent=1))
  if args.output:
    with open(args.output, 'w') as f:
      json.dump(result, f, indent=1)
  return 0


if __name__ == '__main__':
  sys.exit(main())
