"""Config dataclasses and registered experiments (Model Garden's layout)."""
