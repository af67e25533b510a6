"""Erasure sweep of one archive object: 100,000 archived envelopes (Firehose format: GZIP, records
concatenated, ~36 MB raw), once for a person with records in it (removed, object rewritten) and once for
a person without (one substring scan). One core; S3 transfer not included."""

from __future__ import annotations

import gzip
import json
import random
import time

from anomaly_guardian.erasure.records import Subject, without_subject
from anomaly_guardian.privacy import Pseudonymiser


def main() -> None:
    p = Pseudonymiser(b"k" * 32)
    rng = random.Random(7)
    records = []
    for i in range(100_000):
        user = f"user-{rng.randrange(50_000)}"
        event = {
            "eventId": f"e{i}",
            "userId": user,
            "timestamp": "2026-03-01T12:00:00Z",
            "eventType": "transaction",
            "transactionAmount": round(rng.random() * 100, 2),
            "ipAddress": f"10.{rng.randrange(255)}.{rng.randrange(255)}.{rng.randrange(255)}",
            "deviceId": f"d-{user}",
            "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
            "geoLocation": "FR",
        }
        records.append({"tenantId": "acme", "receivedAt": "2026-03-01T12:00:00Z", "event": event})
    raw = "".join(json.dumps(r, separators=(",", ":")) for r in records).encode()
    data = gzip.compress(raw)
    for label, who in (("person in the object", "user-123"), ("person not in it", "nobody")):
        subject = Subject(tenant="acme", user_id=who, pseudonym=p.user("acme", who))
        started = time.perf_counter()
        _, removed = without_subject(data, subject, p)
        took = time.perf_counter() - started
        print(
            f"   {label}: {len(raw) / 1e6:.1f} MB raw / {len(data) / 1e6:.1f} MB gzip, {len(records):,} records,"
            f" {len(removed)} removed in {took:.2f} s ({len(raw) / 1e6 / took:.0f} MB/s raw)"
        )


if __name__ == "__main__":
    main()
