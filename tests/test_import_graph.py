"""The house's import graph: no circle anywhere in our own modules."""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ('gn_keras', os.path.join('official', 'projects', 'group_norm'))


def _modules():
  """{dotted name: path} of every module of our packages."""
  found = {}
  for package in PACKAGES:
    for folder, _, files in os.walk(os.path.join(ROOT, package)):
      for name in files:
        if name.endswith('.py'):
          path = os.path.join(folder, name)
          dotted = os.path.relpath(path, ROOT)[:-3].replace(os.sep, '.')
          found[dotted.removesuffix('.__init__')] = path
  return found


def import_graph():
  """{module: set of our modules it imports}, at any depth of its code."""
  modules = _modules()
  graph = {}
  for name, path in modules.items():
    with open(path) as f:
      tree = ast.parse(f.read())
    edges = set()
    for node in ast.walk(tree):
      if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
      elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
        targets = [f'{node.module}.{alias.name}' for alias in node.names]
        targets.append(node.module)
      else:
        continue
      edges.update(t for t in targets if t in modules and t != name)
    # A package's __init__ is not an import of its own submodules' users.
    graph[name] = {e for e in edges if not name.startswith(e + '.')}
  return graph


def find_cycle(graph):
  """One import circle as a list of modules, or None."""
  state = {}

  def visit(node, path):
    state[node] = 'open'
    for nxt in sorted(graph.get(node, ())):
      if state.get(nxt) == 'open':
        return path[path.index(nxt):] + [nxt]
      if nxt not in state:
        cycle = visit(nxt, path + [nxt])
        if cycle:
          return cycle
    state[node] = 'done'
    return None

  for start in sorted(graph):
    if start not in state:
      cycle = visit(start, [start])
      if cycle:
        return cycle
  return None


def test_no_import_circle():
  graph = import_graph()
  assert 'gn_keras.compat' in graph and len(graph) > 40
  assert find_cycle(graph) is None, ' -> '.join(find_cycle(graph))


def test_the_cycle_finder_finds_a_circle():
  assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == ['a', 'b', 'c',
                                                               'a']
  assert find_cycle({'a': {'b'}, 'b': set()}) is None


@pytest.mark.parametrize('module,forbidden', [
    ('gn_keras', 'official'),  # The library never imports Model Garden.
])
def test_library_never_imports_the_overlay(module, forbidden):
  graph = import_graph()
  assert not any(target.startswith(forbidden)
                 for name, targets in graph.items() if name.startswith(module)
                 for target in targets)


def _design_layers():
  """{module: rank} from docs/DESIGN.md's layer list (its first code block)."""
  with open(os.path.join(ROOT, 'docs', 'DESIGN.md')) as f:
    text = f.read()
  block = text.split('```\n', 2)[1].split('```')[0]
  ranks, prefix = {}, ''
  for rank, line in enumerate(block.splitlines()):
    if line.startswith('official/projects/group_norm/'):
      prefix = 'official/projects/group_norm/'
      continue
    for token in line.split():
      if not token.endswith('.py'):
        continue
      path = (prefix if line.startswith('  ') else '') + token
      ranks[path[:-3].replace('/', '.').removesuffix('.__init__')] = rank
    if line.strip().startswith('tasks/'):  # Two packages, listed as folders.
      for folder in ('tasks', 'serving'):
        ranks[f'official.projects.group_norm.{folder}'] = rank
  return ranks


def _rank(module, ranks):
  while module not in ranks and '.' in module:
    module = module.rsplit('.', 1)[0]
  return ranks.get(module)


def test_design_layer_list_matches_the_imports():
  ranks = _design_layers()
  graph = import_graph()
  packages = {'official.projects.group_norm'} | {
      f'official.projects.group_norm.{p}'
      for p in ('configs', 'data', 'modeling', 'studies')}
  unlisted = sorted(m for m in graph
                    if _rank(m, ranks) is None and m not in packages)
  assert not unlisted, f'modules missing from DESIGN.md: {unlisted}'
  upward = [(m, t) for m, targets in graph.items() for t in targets
            if _rank(m, ranks) is not None and _rank(t, ranks) is not None
            and _rank(t, ranks) > _rank(m, ranks)]
  assert not upward, f'imports of modules listed below: {upward}'
