"""The studies that reproduce the paper's findings at small scale.

Each study is a module with its command (`python -m
official.projects.group_norm.studies.<name>`), its committed results under
`docs/<name>/`, and `runner.py` (train.py in a child process, results file as
resume state) as its base.
"""
