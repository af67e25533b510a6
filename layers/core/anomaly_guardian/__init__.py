"""Anomaly Guardian core: pure detection logic plus thin AWS adapters (see docs/architecture.md)."""

__version__ = "0.1.0"
