"""Contract models shared by every function: events in, anomalies out."""

from anomaly_guardian.models.anomaly import Anomaly, AnomalyType, Severity, severity_for
from anomaly_guardian.models.event import Event, InvalidEvent, parse_event

__all__ = ["Anomaly", "AnomalyType", "Event", "InvalidEvent", "Severity", "parse_event", "severity_for"]
