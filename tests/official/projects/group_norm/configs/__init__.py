"""Tests of the configs and experiments."""
