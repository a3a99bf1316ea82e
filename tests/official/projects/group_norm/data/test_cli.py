"""The makers' scripts: flags from the signature, help from the docstring."""

import subprocess
import sys
from typing import Callable, Optional, Tuple

from absl import flags
import pytest

from official.projects.group_norm.data import cli
from official.projects.group_norm.data import make_fashion_scenes
from official.projects.group_norm.data import make_shapes


def _maker(output_dir: str, count: int = 3, share: float = 0.5,
           scale: Tuple[float, float] = (0.25, 0.5), quiet: bool = False,
           source: Optional[str] = None, log: Callable = print, **more):
  """Makes things.

  Args:
    output_dir: Where they go.
    count: How many,
      on two lines.
    share: A share.
    scale: A range.
    quiet: Say nothing.
    source: Where from.
    log: Receives lines.
    **more: Tests' arguments.

  Returns:
    {name: path}.
  """
  del log, more
  return {'made': (output_dir, count, share, scale, quiet, source)}


def test_help_comes_from_the_docstring_one_line_each():
  helps = cli.argument_help(_maker)
  assert helps['count'] == 'How many, on two lines.'
  assert helps['output_dir'] == 'Where they go.'
  assert '**more' in helps and 'Returns' not in str(helps)


def test_each_plain_argument_becomes_a_typed_flag():
  values = flags.FlagValues()
  converters = cli.define_flags(_maker, values)
  assert sorted(converters) == ['count', 'output_dir', 'quiet', 'scale',
                                'share', 'source']
  values(['prog', '--output_dir=/o', '--count=7', '--share=0.25',
          '--scale=0.1,0.2', '--quiet'])
  got = {name: convert(values[name].value)
         for name, convert in converters.items()}
  assert _maker(**got)['made'] == ('/o', 7, 0.25, (0.1, 0.2), True, None)
  assert values['count'].help == 'How many, on two lines.'


def test_output_dir_is_required():
  values = flags.FlagValues()
  cli.define_flags(_maker, values)
  with pytest.raises(flags.IllegalFlagValueError, match='output_dir'):
    values(['prog'])


@pytest.mark.parametrize('maker', [make_shapes.make_shapes,
                                   make_fashion_scenes.make_fashion_scenes])
def test_every_argument_of_the_makers_has_its_help(maker):
  helps = cli.argument_help(maker)
  values = flags.FlagValues()
  for name in cli.define_flags(maker, values):
    assert values[name].help == helps[name]


def test_a_maker_runs_as_a_script_and_prints_its_paths(tmp_path):
  result = subprocess.run(
      [sys.executable, '-m', 'official.projects.group_norm.data.make_clips',
       f'--output_dir={tmp_path}', '--num_train=2', '--num_val=1',
       '--frame_size=16', '--num_frames=4'],
      capture_output=True, text=True, check=True)
  assert result.stdout.split() == [str(tmp_path / 'train.tfrecord'),
                                   str(tmp_path / 'validation.tfrecord')]
