"""Tests of gn_keras on the JAX backend (see conftest.py)."""
