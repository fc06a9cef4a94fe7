"""optim (being built; see the issue)."""
