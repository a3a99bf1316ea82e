"""Tests of official.projects.group_norm."""
