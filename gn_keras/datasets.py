"""The small data the demo and the Model Garden digits experiment share.

scikit-learn ships its digits images, so nothing is downloaded. One loader,
one split: the demo and `official.projects.group_norm.data.make_digits` see
the same training and validation images.
"""

import numpy as np


def load_digits(seed: int = 0):
  """Scikit-learn's 1797 digits, shuffled by `seed` and split 80/20.

  Args:
    seed: Seed of the permutation before the split.

  Returns:
    (x_train, y_train, x_val, y_val): 8x8x1 float32 images in [0, 1] and
    int32 labels.
  """
  from sklearn import datasets  # noqa: PLC0415 (slow to import: only when called)
  digits = datasets.load_digits()
  x = (digits.images / 16.0).astype('float32')[..., None]
  y = digits.target.astype('int32')
  order = np.random.default_rng(seed).permutation(len(x))
  x, y = x[order], y[order]
  split = int(0.8 * len(x))
  return x[:split], y[:split], x[split:], y[split:]
