"""Clear errors for init checkpoints that point at nothing."""

import pytest
import tensorflow as tf

from official.projects.group_norm.data import input_checks


def test_init_checkpoint_may_be_empty_a_checkpoint_or_its_folder(tmp_path):
  input_checks.check_init_checkpoint('')
  prefix = tf.train.Checkpoint(v=tf.Variable(1.0)).save(
      str(tmp_path / 'ckpt'))
  input_checks.check_init_checkpoint(prefix)
  input_checks.check_init_checkpoint(str(tmp_path))


@pytest.mark.parametrize('name', ['empty_folder', 'no_such_ckpt-3'])
def test_init_checkpoint_that_holds_nothing_names_the_key(tmp_path, name):
  (tmp_path / 'empty_folder').mkdir()
  with pytest.raises(ValueError, match=r"task.init_checkpoint='.*"
                     f"{name}' is neither a checkpoint nor a folder"):
    input_checks.check_init_checkpoint(str(tmp_path / name))
