"""Makers of the embedded default data (digits, synthetic shapes)."""
