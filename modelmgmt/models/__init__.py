"""models (being built; see the issue)."""
