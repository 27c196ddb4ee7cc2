"""Plugins: hook specifications and the manager that loads and isolates them."""
