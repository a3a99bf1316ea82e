"""The Keras 3 demo trains at batch 2 and round-trips both formats."""

import os

import pytest

from gn_keras import demo


@pytest.mark.slow
def test_demo_trains_saves_and_reloads(tmp_path, capsys):
  accuracy = demo.main(['--output_dir', str(tmp_path), '--epochs', '2'])
  assert accuracy > 0.85  # Digits is easy; chance is 0.1.
  out = capsys.readouterr().out
  assert 'Predictions match after reloading both formats.' in out
  assert os.path.isfile(tmp_path / 'digits_gn.keras')
  assert os.path.isfile(tmp_path / 'digits_gn_saved_model' / 'saved_model.pb')


def test_demo_model_uses_only_group_norm():
  model = demo.build_model()
  kinds = {type(layer).__name__ for layer in model.layers}
  assert 'GroupNormalization' in kinds and 'BatchNormalization' not in kinds
