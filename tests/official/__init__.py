"""Tests of the Model Garden overlay."""
