r"""Times one ResNet-50 training step with GroupNorm vs BatchNorm.

For each norm (group_norm, batch_norm), per-replica batch (2, 8) and mode
(graph, XLA), a fresh subprocess builds the project's ResNet-50 backbone
(`resnet_gn`, 224x224, float32) with a 1000-way head, and times an SGD
training step: median over `--steps` after warm-up. Peak memory is the
subprocess's peak resident set (CPU has no allocator statistics), so each
case is measured alone. Prints a table with GN/BN ratios; writes JSON.

  python benchmarks/model_benchmark.py --batch_sizes=2,8 --steps=5 \
      --output=benchmarks/results/model.json
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


def run_case(norm: str, batch: int, xla: bool, steps: int, warmup: int):
  """Runs in the subprocess: returns step times (ms) and peak RSS (MiB)."""
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  sys.path.insert(0, REPO)
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tf_keras  # pylint: disable=g-import-not-at-top

  from official.projects.group_norm.modeling import resnet_gn  # pylint: disable=g-import-not-at-top

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

  for _ in range(warmup):
    step().numpy()
  times = []
  for _ in range(steps):
    start = time.perf_counter()
    step().numpy()
    times.append((time.perf_counter() - start) * 1e3)
  peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  return dict(step_ms=times, peak_rss_mib=peak_mib)


def main(argv=None):
  """Runs the benchmark; prints the table and writes the JSON."""
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--norms', default='group_norm,batch_norm')
  parser.add_argument('--batch_sizes', default='2,8')
  parser.add_argument('--modes', default='graph,xla')
  parser.add_argument('--steps', type=int, default=5)
  parser.add_argument('--warmup', type=int, default=2)
  parser.add_argument('--output', default='benchmarks/results/model.json')
  parser.add_argument('--case', help=argparse.SUPPRESS)  # Subprocess mode.
  args = parser.parse_args(argv)
  if args.case:
    norm, batch, mode = args.case.split(':')
    print(json.dumps(run_case(norm, int(batch), mode == 'xla', args.steps,
                              args.warmup)))
    return None

  cases = [(n, int(b), m) for b in args.batch_sizes.split(',')
           for m in args.modes.split(',') for n in args.norms.split(',')]
  results = []
  print(f'{"norm":<11} {"batch":>5} {"mode":<5} {"step ms":>9} '
        f'{"peak MiB":>9}')
  for i, (norm, batch, mode) in enumerate(cases, 1):
    out = subprocess.run(
        [sys.executable, __file__, f'--case={norm}:{batch}:{mode}',
         f'--steps={args.steps}', f'--warmup={args.warmup}'],
        capture_output=True, text=True, check=False)
    if out.returncode:
      print(f'{norm:<11} {batch:>5} {mode:<5} failed: {out.stderr[-300:]}')
      continue
    case = json.loads(out.stdout.strip().splitlines()[-1])
    row = dict(norm=norm, batch=batch, mode=mode,
               median_step_ms=statistics.median(case['step_ms']), **case)
    results.append(row)
    print(f'{norm:<11} {batch:>5} {mode:<5} {row["median_step_ms"]:9.0f} '
          f'{row["peak_rss_mib"]:9.0f}   [{i}/{len(cases)}]', flush=True)

  def best(norm, batch):
    times = [r['median_step_ms'] for r in results
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
    json.dump(dict(cases=results, summary=summary), f, indent=1)
  print(f'Wrote {args.output}')
  return results


if __name__ == '__main__':
  main()
