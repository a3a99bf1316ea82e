"""Runs a data maker as a script: its flags come from its own signature.

Every maker is a function `make_x(output_dir, ..., seed=0, ...)` with a
Google-style docstring and returns {name: path}; `run(make_x)` defines one
absl flag per argument that has a plain default (int, float, str, bool, a
tuple of numbers as a list, or None for an optional string), with the
docstring's words for its help, `--output_dir` required, and prints the
paths written. So a maker's defaults and help are written once.
"""

import inspect
import re
import sys
from typing import Callable, Dict

from absl import app
from absl import flags

_SKIPPED = (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)


def argument_help(function: Callable) -> Dict[str, str]:
  """{argument: its docstring text, on one line} from the Args: section."""
  doc = inspect.getdoc(function) or ''
  section = re.search(r'^Args:\n(.*?)(?:\n\S|\Z)', doc, re.S | re.M)
  helps, name = {}, None
  for line in (section.group(1) if section else '').splitlines():
    match = re.match(r'^  (\**\w+): (.*)$', line)
    if match:
      name = match.group(1)
      helps[name] = match.group(2)
    elif name and line.strip():
      helps[name] += ' ' + line.strip()
  return helps


def _same(value):
  return value


def _tuple_of(kind: type) -> Callable:
  return lambda values: tuple(kind(v) for v in values)


def define_flags(maker: Callable, flag_values=flags.FLAGS
                 ) -> Dict[str, Callable]:
  """Defines the maker's flags; returns {argument: flag value -> argument}."""
  helps = argument_help(maker)
  # The script's module, so that --helpshort lists them.
  where = {'module_name': sys.argv[0], 'flag_values': flag_values}
  converters = {}
  for name, parameter in inspect.signature(maker).parameters.items():
    default, help_text = parameter.default, helps.get(name, name)
    if parameter.kind in _SKIPPED:
      continue
    convert = _same
    if default is inspect.Parameter.empty:
      flags.DEFINE_string(name, None, help_text, **where)
      flags.mark_flag_as_required(name, flag_values)
    elif callable(default):
      continue  # A callback (`log`): left at its default.
    elif isinstance(default, bool):
      flags.DEFINE_boolean(name, default, help_text, **where)
    elif isinstance(default, int):
      flags.DEFINE_integer(name, default, help_text, **where)
    elif isinstance(default, float):
      flags.DEFINE_float(name, default, help_text, **where)
    elif isinstance(default, tuple):
      flags.DEFINE_list(name, [str(v) for v in default], help_text, **where)
      convert = _tuple_of(type(default[0]))
    elif default is None or isinstance(default, str):
      flags.DEFINE_string(name, default, help_text, **where)
    else:
      continue  # Left at its default: no flag type for it.
    converters[name] = convert
  return converters


def run(maker: Callable) -> None:
  """Defines the maker's flags and runs it under absl; prints its paths."""
  converters = define_flags(maker)

  def main(argv):
    del argv
    paths = maker(**{name: convert(flags.FLAGS[name].value)
                     for name, convert in converters.items()})
    for path in paths.values():
      print(path, flush=True)

  app.run(main)
