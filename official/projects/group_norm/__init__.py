"""GN project."""
