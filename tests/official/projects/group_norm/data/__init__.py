"""Tests of the data makers."""
