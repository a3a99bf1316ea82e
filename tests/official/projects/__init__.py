"""Tests of the Model Garden overlay's projects."""
