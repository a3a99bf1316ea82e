"""Tests of gn_keras on the PyTorch backend (see conftest.py)."""
