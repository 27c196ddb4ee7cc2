"""What a rule pack is, and how it becomes durable_rules rules."""
