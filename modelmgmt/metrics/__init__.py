"""metrics (being built; see the issue)."""
