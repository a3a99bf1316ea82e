"""Tests for the data makers' shared helpers (records.py)."""

import os

import pytest

from official.projects.group_norm.data import records


def test_settings_read_back_as_written_tuples_as_lists(tmp_path):
  records.write_settings(str(tmp_path), {'scale': (0.25, 0.5), 'items': 3})
  records.check_settings(str(tmp_path), {'scale': (0.25, 0.5)})
  records.check_settings(str(tmp_path), {'scale': [0.25, 0.5], 'items': 3})
  assert os.listdir(tmp_path) == [records.SETTINGS_FILE]  # No temporary.


def test_other_settings_are_named_in_the_error(tmp_path):
  records.write_settings(str(tmp_path), {'scale': (0.25, 0.5), 'items': 3})
  with pytest.raises(ValueError, match=r"'items': \(3, 2\)\}.*another "
                     'folder'):
    records.check_settings(str(tmp_path), {'scale': (0.25, 0.5), 'items': 2})
  with pytest.raises(ValueError, match=r"'seed': \(None, 1\)"):
    records.check_settings(str(tmp_path), {'seed': 1})


def test_a_folder_without_settings_passes(tmp_path):
  records.check_settings(str(tmp_path), {'items': 2})
