"""Tests of the gn_keras library."""
