"""Many patients at once: the cohort summary."""
