"""deployment (being built; see the issue)."""
