r"""Times one ResNet-50 training step with GroupNorm vs BatchNorm.

For each per-replica batch (2, 8) and mode (graph, XLA), a fresh subprocess
builds the project's ResNet-50 backbone (`resnet_gn`, 224x224, float32) with a
1000-way head once per norm (group_norm, batch_norm) and times an SGD training
step of each, the norms taking turns step by step so that drifting machine
load hits them alike: the minimum over `--steps` after warm-up (medians in
the JSON), and GN/BN as a ratio of minima from the same process. With
`--separate`, each norm runs in a subprocess of its own instead, which also
gives its peak resident set (CPU has no allocator statistics). Prints a table
with GN/BN ratios; writes JSON.

  python benchmarks/model_benchmark.py --batch_sizes=2,8 --modes=graph \
      --steps=11 --output=benchmarks/results/model.json
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')


def run_case(norms, batch: int, xla: bool, steps: int, warmup: int):
  """Runs in the subprocess: {norm: step times (ms)} and the peak RSS (MiB)."""
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  sys.path.insert(0, REPO)
  import tensorflow as tf  # noqa: PLC0415

  step_fns = {norm: _make_step(tf, norm, batch, xla) for norm in norms}
  for _ in range(warmup):
    for step in step_fns.values():
      step().numpy()
  times = {norm: [] for norm in norms}
  for _ in range(steps):
    for norm, step in step_fns.items():
      start = time.perf_counter()
      step().numpy()
      times[norm].append((time.perf_counter() - start) * 1e3)
  peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  return dict(step_ms=times, peak_rss_mib=peak_mib)


def _make_step(tf, norm, batch, xla):
  """One ResNet-50 SGD step with `norm`, as a tf.function."""
  import tf_keras  # noqa: PLC0415

  from official.projects.group_norm.modeling import resnet_gn  # noqa: PLC0415

  backbone = resnet_gn.ResNetGN(
      50, tf_keras.layers.InputSpec(shape=[None, 224, 224, 3]), norm=norm)
  head = tf_keras.layers.Dense(1000)
  optimizer = tf_keras.optimizers.SGD(0.01, momentum=0.9)
  images = tf.random.normal([batch, 224, 224, 3])
  labels = tf.random.uniform([batch], 0, 1000, tf.int32)

  @tf.function(jit_compile=xla)
  def step():
    with tf.GradientTape() as tape:
      features = backbone(images, training=True)['5']
      logits = head(tf.reduce_mean(features, [1, 2]))
      loss = tf.reduce_mean(
          tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
    variables = backbone.trainable_variables + head.trainable_variables
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    return loss

  return step


def main(argv=None):
  """Runs the benchmark; prints the table and writes the JSON."""
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--norms', default='group_norm,batch_norm')
  parser.add_argument('--batch_sizes', default='2,8')
  parser.add_argument('--modes', default='graph,xla')
  parser.add_argument('--steps', type=int, default=11)
  parser.add_argument('--warmup', type=int, default=2)
  parser.add_argument('--separate', action='store_true',
                      help='Each norm in its own subprocess (gives its peak '
                      'RSS; not interleaved).')
  parser.add_argument('--output', default='benchmarks/results/model.json')
  parser.add_argument('--case', help=argparse.SUPPRESS)  # Subprocess mode.
  args = parser.parse_args(argv)
  if args.case:
    norms, batch, mode = args.case.split(':')
    print(json.dumps(run_case(norms.split('+'), int(batch), mode == 'xla',
                              args.steps, args.warmup)))
    return None

  norms = args.norms.split(',')
  groups = [[n] for n in norms] if args.separate else [norms]
  cases = [(g, int(b), m) for b in args.batch_sizes.split(',')
           for m in args.modes.split(',') for g in groups]
  results = []
  print(f'{"norm":<11} {"batch":>5} {"mode":<5} {"min ms":>9} '
        f'{"median ms":>10} {"peak MiB":>9}  (peak: of the process, '
        f'{"one norm" if args.separate else "all norms"})')
  for i, (group, batch, mode) in enumerate(cases, 1):
    out = subprocess.run(
        [sys.executable, __file__, f'--case={"+".join(group)}:{batch}:{mode}',
         f'--steps={args.steps}', f'--warmup={args.warmup}'],
        capture_output=True, text=True, check=False)
    if out.returncode:
      print(f'{"+".join(group):<11} {batch:>5} {mode:<5} failed: '
            f'{out.stderr[-300:]}')
      continue
    case = json.loads(out.stdout.strip().splitlines()[-1])
    for norm in group:
      times = case['step_ms'][norm]
      row = dict(norm=norm, batch=batch, mode=mode,
                 min_step_ms=min(times),
                 median_step_ms=statistics.median(times), step_ms=times,
                 peak_rss_mib=case['peak_rss_mib'],
                 peak_rss_of='one norm' if args.separate else 'all norms')
      results.append(row)
      print(f'{norm:<11} {batch:>5} {mode:<5} {row["min_step_ms"]:9.0f} '
            f'{row["median_step_ms"]:10.0f} {row["peak_rss_mib"]:9.0f}   '
            f'[{i}/{len(cases)}]', flush=True)

  def best(norm, batch):
    times = [r['min_step_ms'] for r in results
             if r['norm'] == norm and r['batch'] == batch]
    return min(times) if times else None

  summary = []
  for batch in sorted({r['batch'] for r in results}):
    gn, bn = best('group_norm', batch), best('batch_norm', batch)
    if gn and bn:
      summary.append(dict(batch=batch, gn_best_ms=gn, bn_best_ms=bn,
                          gn_over_bn=gn / bn))
      print(f'batch {batch}: best GN step {gn:.0f} ms / best BN step '
            f'{bn:.0f} ms = {gn / bn:.2f}x')
  os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
  with open(args.output, 'w') as f:
    json.dump(dict(statistic='min over steps; norms interleaved in one '
                   'process unless --separate', steps=args.steps,
                   cases=results, summary=summary), f, indent=1)
  print(f'Wrote {args.output}')
  return results


if __name__ == '__main__':
  main()
