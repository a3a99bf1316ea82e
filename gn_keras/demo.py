"""Demo: a small Keras 3 CNN with GroupNormalization, trained at batch 2.

Trains on scikit-learn's digits (8x8 grey images, shipped with the package, no
download), reports validation accuracy, saves the model as `.keras` and as a
SavedModel (`model.export`), reloads both and checks that their predictions
match the trained model's.

  python -m gn_keras.demo --output_dir=/tmp/gn_demo --epochs=3 --batch_size=2
"""

import argparse
import os
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

import gn_keras
from gn_keras.datasets import load_digits


def build_model(groups: int = 4) -> keras.Model:
  """A small CNN whose every norm is a gn_keras GroupNormalization."""
  inputs = keras.Input((8, 8, 1))
  x = inputs
  for filters in (16, 32):
    x = keras.layers.Conv2D(filters, 3, padding='same', use_bias=False)(x)
    x = gn_keras.GroupNormalization(groups=groups, activation='relu')(x)
    x = keras.layers.Conv2D(filters, 3, padding='same', use_bias=False)(x)
    x = gn_keras.GroupNormalization(groups=groups, activation='relu')(x)
    x = keras.layers.MaxPooling2D()(x)
  x = keras.layers.GlobalAveragePooling2D()(x)
  outputs = keras.layers.Dense(10)(x)
  return keras.Model(inputs, outputs, name='digits_gn_cnn')


def main(argv=None):
  """Trains, saves, reloads and compares; returns the validation accuracy."""
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--output_dir', default=None,
                      help='Where to save the models. Defaults to a new '
                      'temporary directory.')
  parser.add_argument('--epochs', type=int, default=3)
  parser.add_argument('--batch_size', type=int, default=2)
  parser.add_argument('--learning_rate', type=float, default=0.01)
  parser.add_argument('--seed', type=int, default=0)
  args = parser.parse_args(argv)
  if args.epochs < 1 or args.batch_size < 1:
    parser.error('--epochs and --batch_size must be positive; received '
                 f'{args.epochs} and {args.batch_size}.')
  output_dir = args.output_dir or tempfile.mkdtemp(prefix='gn_keras_demo_')
  os.makedirs(output_dir, exist_ok=True)
  keras.utils.set_random_seed(args.seed)

  x_train, y_train, x_val, y_val = load_digits(args.seed)
  model = build_model()
  model.compile(
      optimizer=keras.optimizers.SGD(args.learning_rate, momentum=0.9),
      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
      metrics=['accuracy'])
  print(f'Training {model.name} ({model.count_params()} parameters) on '
        f'{len(x_train)} digits at batch {args.batch_size} for {args.epochs} '
        'epochs.', flush=True)
  start = time.time()
  model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
            validation_data=(x_val, y_val), verbose=2)
  _, accuracy = model.evaluate(x_val, y_val, verbose=0)
  print(f'Validation accuracy: {accuracy:.4f} after {time.time() - start:.0f}s')

  keras_path = os.path.join(output_dir, 'digits_gn.keras')
  saved_model_dir = os.path.join(output_dir, 'digits_gn_saved_model')
  model.save(keras_path)
  model.export(saved_model_dir, verbose=False)

  expected = model.predict(x_val, verbose=0)
  reloaded = keras.models.load_model(keras_path, safe_mode=True)
  from_keras = reloaded.predict(x_val, verbose=0)
  # Keep the loaded object alive while its function runs: it owns the variables.
  serving = tf.saved_model.load(saved_model_dir)
  from_saved_model = serving.serve(tf.constant(x_val)).numpy()
  worst = 0.0
  for label, got, path in (('.keras', from_keras, keras_path),
                           ('SavedModel', from_saved_model, saved_model_dir)):
    diff = float(np.max(np.abs(got - expected)))
    worst = max(worst, diff)
    print(f'{label:>10} reloaded from {path}: max |prediction difference| = '
          f'{diff:.2e}')
  if worst > 1e-4:
    raise SystemExit(f'Reloaded predictions differ from the trained model '
                     f'by {worst:.2e} (> 1e-4).')
  print('Predictions match after reloading both formats.')
  return accuracy


if __name__ == '__main__':
  main()
