"""Anomaly Guardian core: pure detection logic plus thin AWS adapters (see DESIGN.md)."""

__version__ = "0.1.0"
