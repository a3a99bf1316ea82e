"""Model Garden's tasks, building and checking the GN models."""
