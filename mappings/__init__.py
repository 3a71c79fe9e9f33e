"""Canonical model and one pure mapper module per platform (next issue)."""
