"""Tests of the norm factory and models."""
