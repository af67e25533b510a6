"""Anomalies in OpenSearch: search, dashboards and OpenSearch Anomaly Detection (docs/architecture.md, "Flow")."""
