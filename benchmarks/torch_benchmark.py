r"""Times the Keras 3 layer on PyTorch against torch's and Keras' own GN.

Forward+backward (gradients for x, gamma and beta) of:

  gn_keras   gn_keras.GroupNormalization (over gn_keras.torch_ops)
  keras_gn   keras.layers.GroupNormalization
  torch_gn   torch.nn.functional.group_norm: the speed to reach

at ResNet-50's GN shapes, channels-last and channels-first. Channels-last
means the same bytes for all three: the Keras layers take `[N, H, W, C]`
(axis -1) and torch takes the logical `[N, C, H, W]` in
`torch.channels_last` memory, its own channels-last. In bfloat16 the Keras
layers run under `mixed_bfloat16` (float32 gamma and beta) and torch gets
bfloat16 gamma and beta, as its op requires. Within each repeat the
implementations run round-robin, so drifting load hits them alike; the table
and JSON report the minimum over repeats, medians beside it in the JSON, and
ratios of minima from this run. Runs on CUDA when torch sees a GPU, else on
the CPU. Needs no TensorFlow.

  KERAS_BACKEND=torch python benchmarks/torch_benchmark.py --batch_sizes=2 \
      --output=benchmarks/results/torch_cpu.json
"""

import os
import sys

os.environ['KERAS_BACKEND'] = 'torch'

import keras
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
import interleave

import gn_keras

RESNET50_GN_SHAPES = ('112x112x64', '56x56x256', '28x28x512', '14x14x1024',
                      '7x7x2048')
IMPLS = ('gn_keras', 'keras_gn', 'torch_gn')
LAYOUTS = ('channels_last', 'channels_first')
GROUPS = 32


def _device():
  return torch.device('cuda' if torch.cuda.is_available() else 'cpu')


def _sync():
  if torch.cuda.is_available():
    torch.cuda.synchronize()


def make_step(impl, x_nchw, layout, dtype):
  """A forward+backward of `impl` on x (given as NCHW): grads for x, weights.

  Returns a function that runs one step and waits for it.
  """
  channels = x_nchw.shape[1]
  if impl == 'torch_gn':
    memory = (torch.channels_last if layout == 'channels_last' else
              torch.contiguous_format)
    x = x_nchw.contiguous(memory_format=memory).requires_grad_()
    gamma = torch.ones(channels, dtype=dtype, device=x.device,
                       requires_grad=True)
    beta = torch.zeros_like(gamma, requires_grad=True)
    forward = lambda: torch.nn.functional.group_norm(  # noqa: E731
        x, GROUPS, gamma, beta, 1e-5)
    params = [gamma, beta]
  else:
    policy = 'mixed_bfloat16' if dtype == torch.bfloat16 else 'float32'
    axis = -1 if layout == 'channels_last' else 1
    layer_class = (gn_keras.GroupNormalization if impl == 'gn_keras' else
                   keras.layers.GroupNormalization)
    layer = layer_class(groups=GROUPS, axis=axis, epsilon=1e-5, dtype=policy)
    x = (x_nchw.permute(0, 2, 3, 1) if axis == -1 else x_nchw)
    x = x.contiguous().requires_grad_()
    layer.build(tuple(x.shape))
    params = [w.value for w in layer.trainable_weights]
    forward = lambda: layer(x)  # noqa: E731

  def step():
    y = forward()
    # A fixed random-like cotangent: sin keeps the gradient dense.
    loss = torch.sin(y.float()).sum()
    torch.autograd.grad(loss, [x, *params])
    _sync()

  return step


def time_case(shape, batch, layout, dtype, repeats, warmup):
  """Minimum and median ms of each implementation, interleaved."""
  height, width, channels = shape
  generator = torch.Generator().manual_seed(0)
  x = torch.randn((batch, channels, height, width), generator=generator)
  x = (x * 2.0 + 1.0).to(device=_device(), dtype=dtype)
  steps = {impl: make_step(impl, x, layout, dtype) for impl in IMPLS}
  return interleave.minima(steps, repeats, warmup)


def main(argv=None):
  """Runs the cases the flags ask for; prints the table, writes the JSON."""
  parser = interleave.case_parser(__doc__, 21, RESNET50_GN_SHAPES)
  parser.add_argument('--layouts', default=','.join(LAYOUTS))
  args = parser.parse_args(argv)
  device = _device()
  device_name = (torch.cuda.get_device_name() if device.type == 'cuda' else
                 f'cpu ({torch.get_num_threads()} threads)')
  table = interleave.Table(
      f'torch {torch.__version__} on {device_name}; Keras '
      f'{keras.__version__}', args.repeats, 'eager', 40, IMPLS,
      {'ours/torch': ('gn_keras', 'torch_gn'),
       'ours/keras': ('gn_keras', 'keras_gn')})
  for dtype_name in args.dtypes.split(','):
    dtype = getattr(torch, dtype_name)
    for layout in args.layouts.split(','):
      for batch in (int(b) for b in args.batch_sizes.split(',')):
        for spec in args.shapes.split(','):
          shape = tuple(int(d) for d in spec.split('x'))
          result = time_case(shape, batch, layout, dtype, args.repeats,
                             args.warmup)
          table.add(f'{batch}x{spec} {layout} {dtype_name}',
                    {'shape': f'{batch}x{spec}', 'layout': layout,
                     'dtype': dtype_name}, result)
  interleave.write_results(
      args.output, table.rows, device=device_name, torch=torch.__version__,
      keras=keras.__version__, repeats=args.repeats)
  return 0


if __name__ == '__main__':
  sys.exit(main())
