"""Command-line entry points (the only place that prints or exits)."""
