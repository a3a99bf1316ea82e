"""Export modules: Model Garden's, building and checking the GN models."""
