"""DELETE /subjects/{userId}: erase one person from every store, in an order that finds all of them.

1. Read the person's anomalies (Anomalies `gsi1`, their pseudonym): their anomaly ids, event ids and the
   pseudonyms of the IPs and devices they used.
2. Sweep the object stores (event archive, model bucket): archived envelopes of the person are
   removed (which also yields their raw IPs and device ids and every event id), other records naming
   them are redacted, older object versions that held them are deleted.
3. Delete their anomalies (the table stream then deletes the OpenSearch documents), the detector state
   keyed by their user, IP and device pseudonyms, neutralise the dedupe markers of their events.
4. Every tenant partition of Incidents (and their entity-index partitions), Audit, BlockList and Config:
   items keyed by one of their identifiers are deleted, others mentioning them are redacted.
5. One audit record of the erasure that does not re-identify the person (a receipt id, counts only).

Pure orchestration over ports; the AWS adapters are in `adapters/erasure_stores.py` (wired in
`wiring.api_services`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from anomaly_guardian.erasure.records import Subject
from anomaly_guardian.state.store import state_key

# Detector state kinds keyed by the user's pseudonym (docs/internals.md), by IP, by device.
USER_KINDS = ("velu", "value", "geo", "behav", "rules", "ml")
USER_PREFIXES = ("usage#gpu|",)
IP_KINDS = ("veli",)
DEVICE_KINDS: tuple[str, ...] = ()

# What erasure does not reach, and why the law allows it (docs/privacy.md). Empty for stored data.
NOT_COVERED: list[str] = []


@dataclass
class ErasurePorts:
    anomalies: Any  # AnomalyRepository: user_anomalies(tenant, pseudonym), delete_user(tenant, pseudonym)
    state: Any  # StateStore: delete_prefix(prefix)
    pseudonymiser: Any
    partitions: dict[str, Any] = field(default_factory=dict)  # table purpose -> PartitionEraser
    markers: Any = None  # MarkerEraser
    objects: dict[str, Any] = field(default_factory=dict)  # store name -> ObjectEraser
    extra_state_keys: Callable[[str, str], Iterable[str]] | None = None  # detectors' own user state keys


@dataclass
class ErasureReport:
    userPseudonym: str
    anomaliesDeleted: int = 0
    stateItemsDeleted: int = 0
    blockEntriesDeleted: int = 0
    suppressionsDeleted: int = 0
    itemsDeleted: dict[str, int] = field(default_factory=dict)
    itemsRedacted: dict[str, int] = field(default_factory=dict)
    objectsRewritten: dict[str, int] = field(default_factory=dict)
    archivedRecordsRemoved: int = 0


class SubjectEraser:
    def __init__(self, ports: ErasurePorts):
        self.p = ports

    def erase(
        self, tenant: str, user_id: str, extra_state_keys: Callable[[str, str], Iterable[str]] | None = None
    ) -> tuple[ErasureReport, Subject]:
        """Erase `user_id` of `tenant`; `extra_state_keys(tenant, pseudonym)` adds detector state keys
        beyond the known kinds (the API asks every registered detector)."""
        p = self.p
        subject = Subject(tenant=tenant, user_id=user_id, pseudonym=p.pseudonymiser.user(tenant, user_id))
        report = ErasureReport(userPseudonym=subject.pseudonym)
        for anomaly in p.anomalies.user_anomalies(tenant, subject.pseudonym):
            subject.learn_anomaly(anomaly)

        events_before = len(subject.event_ids)
        for name, store in p.objects.items():
            res = store.erase(subject, p.pseudonymiser)
            report.objectsRewritten[name] = res.rewritten + res.deleted
        report.archivedRecordsRemoved = max(0, len(subject.event_ids) - events_before)

        report.anomaliesDeleted = p.anomalies.delete_user(tenant, subject.pseudonym)
        prefixes = {state_key(tenant, kind, subject.pseudonym) for kind in USER_KINDS}
        prefixes |= {f"{tenant}#{prefix}{subject.pseudonym}" for prefix in USER_PREFIXES}
        prefixes |= {state_key(tenant, kind, ip) for kind in IP_KINDS for ip in subject.ip_pseudonyms}
        prefixes |= {state_key(tenant, kind, d) for kind in DEVICE_KINDS for d in subject.device_pseudonyms}
        extra = extra_state_keys or p.extra_state_keys
        if extra is not None:
            prefixes |= {k for k in extra(tenant, subject.pseudonym) if k.startswith(f"{tenant}#")}
        report.stateItemsDeleted = sum(p.state.delete_prefix(k) for k in sorted(prefixes))
        if p.markers is not None:
            p.markers.erase(tenant, subject)

        entity_partitions = [f"T#{tenant}#E#user#{subject.pseudonym}"]
        entity_partitions += [f"T#{tenant}#E#ip#{ip}" for ip in sorted(subject.ip_pseudonyms | subject.ips)]
        entity_partitions += [f"T#{tenant}#E#device#{d}" for d in sorted(subject.device_pseudonyms)]
        for name, table in p.partitions.items():
            res = table.erase(tenant, subject, entity_partitions if name == "incidents" else ())
            report.itemsDeleted[name] = res.deleted
            report.itemsRedacted[name] = res.rewritten
        report.blockEntriesDeleted = report.itemsDeleted.get("blocklist", 0)
        report.suppressionsDeleted = report.itemsDeleted.get("config", 0)
        return report, subject


__all__ = ["NOT_COVERED", "ErasurePorts", "ErasureReport", "SubjectEraser"]
