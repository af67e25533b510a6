"""Anomalies in OpenSearch: search, dashboards and OpenSearch Anomaly Detection (DESIGN.md flow)."""
