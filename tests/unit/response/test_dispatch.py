"""The detector's hand-off: one message per anomaly, the raw IP joined from the batch's events by eventId."""

from __future__ import annotations

from anomaly_guardian.models.anomaly import Anomaly
from anomaly_guardian.models.event import parse_event
from anomaly_guardian.response.dispatch import dispatch, messages


def anomaly(event_id: str) -> Anomaly:
    return Anomaly(
        tenantId="acme",
        severity="HIGH",
        anomalyScore=0.8,
        userId="u_1",
        anomalyType="velocity",
        description="d",
        originalEvent={"eventId": event_id, "timestamp": "2026-01-01T00:00:00Z", "eventType": "login"},
    )


class FakeQueue:
    def __init__(self):
        self.batches = []

    def send_batch(self, bodies):
        self.batches.append(list(bodies))
        return len(bodies)


def test_messages_carry_the_anomaly_and_its_source_ip():
    events = [
        parse_event(
            {
                "eventId": "e1",
                "userId": "alice",
                "timestamp": "2026-01-01T00:00:00Z",
                "eventType": "login",
                "ipAddress": "93.184.216.34",
            }
        ),
        {"eventId": "e2", "ipAddress": "93.184.216.35"},
    ]
    out = messages([anomaly("e1"), anomaly("e2"), anomaly("e3")], events)
    assert [m["subjectIp"] for m in out] == ["93.184.216.34", "93.184.216.35", None]
    assert out[0]["anomaly"]["originalEvent"]["eventId"] == "e1"
    assert "ipAddress" not in out[0]["anomaly"]["originalEvent"]  # the stored anomaly stays pseudonymous


def test_dispatch_sends_one_batch_and_is_a_no_op_without_a_queue(monkeypatch):
    q = FakeQueue()
    assert dispatch([anomaly("e1"), anomaly("e2")], queue=q) == 2
    assert len(q.batches) == 1 and len(q.batches[0]) == 2
    assert dispatch([], queue=q) == 0
    monkeypatch.delenv("RESPONSE_QUEUE_URL", raising=False)
    assert dispatch([anomaly("e1")]) == 0
