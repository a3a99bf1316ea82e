r"""Steps per second of the project's trainer: intra-op threads, before/after.

Runs `train.py` (Model Garden's trainer on MirroredStrategy over 2 logical
CPU replicas, `resnet_gn_fashion_photos`) for `--loops` loops of
`--loop_steps` steps at each (norm, images per replica), once with
TensorFlow's default intra-op threads (every core for every op:
`TF_NUM_INTRAOP_THREADS=0`, as before `train.configure_cpu_replicas` split
them) and once with the split (cores // replicas), the two taking turns
`--repeats` times so that drifting machine load hits them alike. A run's
figure is its last loop's steps/s (the first loops include tracing and XLA
compilation); the table gives the median per variant and after/before.
Time it on a quiet machine (no study training beside it). Writes JSON.

  python benchmarks/trainer_benchmark.py \
      --cases=group_norm:2,batch_norm:2,group_norm:32 \
      --output=benchmarks/results/trainer.json
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
REPLICAS = 2
VARIANTS = {'before': {'TF_NUM_INTRAOP_THREADS': '0'}, 'after': {}}


def steps_per_second(norm: str, per_replica: int, loop_steps: int,
                     loops: int, env_extra) -> float:
  """One train.py run; its last loop's steps/s."""
  model_dir = tempfile.mkdtemp(prefix='trainer_benchmark_')
  overrides = ','.join([
      f'task.model.backbone.resnet_gn.norm={norm}',
      f'task.train_data.global_batch_size={per_replica * REPLICAS}',
      f'trainer.train_steps={loop_steps * loops}',
      f'trainer.steps_per_loop={loop_steps}',
      f'trainer.summary_interval={loop_steps}',
      'trainer.checkpoint_interval=1000000'])
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  env.pop('TF_NUM_INTRAOP_THREADS', None)
  env.update(env_extra)
  try:
    out = subprocess.run(
        [sys.executable, '-m', 'official.projects.group_norm.train',
         '--experiment=resnet_gn_fashion_photos', '--mode=train',
         f'--model_dir={model_dir}', f'--cpu_replicas={REPLICAS}',
         '--seed=0', f'--params_override={overrides}'],
        cwd=REPO, env=env, capture_output=True, text=True, check=True)
  finally:
    shutil.rmtree(model_dir, ignore_errors=True)
  rates = re.findall(r'^step \d+/\d+ .*\| ([\d.]+) steps/s', out.stdout,
                     re.MULTILINE)
  return float(rates[-1])


def main() -> None:
  """Runs the cases and prints and writes the table."""
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--cases', default='group_norm:2,batch_norm:2,'
                      'group_norm:32', help='norm:images per replica, ...')
  parser.add_argument('--loop_steps', type=int, default=0,
                      help='Steps a loop (default: 600 at 2 images per '
                      'replica, scaled down with the batch, at least 60).')
  parser.add_argument('--loops', type=int, default=3)
  parser.add_argument('--repeats', type=int, default=1)
  parser.add_argument('--output', default=None)
  args = parser.parse_args()
  results = []
  for case in args.cases.split(','):
    norm, per_replica = case.split(':')
    per_replica = int(per_replica)
    loop_steps = args.loop_steps or max(60, 1200 // per_replica)
    rates = {name: [] for name in VARIANTS}
    for _ in range(args.repeats):
      for name, env_extra in VARIANTS.items():
        rates[name].append(steps_per_second(norm, per_replica, loop_steps,
                                            args.loops, env_extra))
    medians = {k: statistics.median(v) for k, v in rates.items()}
    results.append({'norm': norm, 'images_per_replica': per_replica,
                    'loop_steps': loop_steps, 'steps_per_s': rates,
                    'median_steps_per_s': medians,
                    'after_over_before': medians['after'] / medians['before']})
    print(f'{norm} at {per_replica} images/replica: before '
          f'{medians["before"]:.1f} steps/s, after {medians["after"]:.1f} '
          f'steps/s, x{results[-1]["after_over_before"]:.2f}', flush=True)
  if args.output:
    with open(args.output, 'w') as f:
      json.dump({'replicas': REPLICAS, 'cpu_count': os.cpu_count(),
                 'experiment': 'resnet_gn_fashion_photos',
                 'results': results}, f, indent=1)
      f.write('\n')


if __name__ == '__main__':
  main()
