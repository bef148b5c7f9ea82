"""Vigil: privacy-first incident detection for city camera networks."""

__version__ = "0.1.0"
