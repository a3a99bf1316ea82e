"""Tests of the PyTorch backend: collected only when KERAS_BACKEND=torch.

`tests/gn_keras/test_torch_backend.py` runs them, with the shared layer
checks, in a pytest process of their own (the Keras backend is fixed when
Keras is first imported); run them alone with
`KERAS_BACKEND=torch python -m pytest tests/gn_keras/torch`.
"""

import os

if os.environ.get('KERAS_BACKEND') != 'torch':
  collect_ignore_glob = ['test_*.py']
