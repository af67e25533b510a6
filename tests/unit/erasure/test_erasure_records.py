"""Archive objects without one person: Firehose's concatenated GZIP records and JSON lines, redaction."""

from __future__ import annotations

import gzip
import json

from anomaly_guardian.erasure.records import REDACTED, Subject, parse_object, redact, without_subject
from anomaly_guardian.privacy import Pseudonymiser

P = Pseudonymiser(b"k" * 32)


def subject():
    return Subject(tenant="t", user_id="alice", pseudonym=P.user("t", "alice"))


def env(user, i, tenant="t", **extra):
    return {"tenantId": tenant, "event": {"eventId": f"e{user}{i}", "userId": user, **extra}}


def test_concatenated_gzip_records_keep_their_format_and_lose_only_the_subject():
    records = [env("alice", 1, ipAddress="203.0.113.9"), env("bob", 1), env("alice", 1, tenant="other"), env("bob", 2)]
    data = gzip.compress("".join(json.dumps(r) for r in records).encode())
    s = subject()
    clean, removed = without_subject(data, s, P)
    assert [r["event"]["userId"] for r in removed] == ["alice"]
    parsed = parse_object(clean)
    assert parsed.gzipped and parsed.layout == "concatenated"
    assert parsed.records == records[1:]  # another tenant's alice is another person
    assert s.ips == {"203.0.113.9"} and P.ip("t", "203.0.113.9") in s.ip_pseudonyms and "ealice1" in s.event_ids


def test_json_lines_rows_naming_the_subject_are_removed_or_redacted():
    s = subject()
    s.anomaly_ids.add("A1")
    rows = [
        {"tenantId": "t", "anomalyId": "A1", "eventId": "x"},
        {"tenantId": "t", "anomalyId": "A2", "note": f"seen with {s.pseudonym}"},
        {"tenantId": "t", "anomalyId": "A3"},
    ]
    clean, removed = without_subject("".join(json.dumps(r) + "\n" for r in rows).encode(), s, P)
    assert removed == rows[:1]
    out = parse_object(clean)
    assert out.layout == "lines" and out.records == [{**rows[1], "note": f"seen with {REDACTED}"}, rows[2]]


def test_objects_without_the_subject_or_not_json_are_left_alone():
    s = subject()
    assert without_subject(json.dumps(env("bob", 1)).encode(), s, P) == (None, [])
    assert without_subject(b"\x93NUMPY\x01\x00binary", s, P) == (None, [])
    assert without_subject(gzip.compress(b"\x00\x01\x02"), s, P) == (None, [])


def test_redact_reaches_keys_values_and_nesting():
    assert redact({"a": ["x alice/y", {"alice": 1}]}, ["alice"]) == {"a": [f"x {REDACTED}/y", {REDACTED: 1}]}


def test_identifiers_match_as_whole_tokens_only():
    from anomaly_guardian.erasure.records import contains_any

    assert contains_any("IP#1.2.3.4", ["1.2.3.4"]) and not contains_any("IP#11.2.3.45", ["1.2.3.4"])
    assert contains_any('{"userId": "alice"}', ["alice"]) and not contains_any("malice-1", ["alice"])
    assert redact("T#t#E#user#u_ab12", ["u_ab12"]) == f"T#t#E#user#{REDACTED}"


def test_a_user_id_equal_to_the_tenant_name_never_erases_the_tenant():
    s = Subject(tenant="acme", user_id="acme", pseudonym=P.user("acme", "acme"))
    rows = [{"tenantId": "acme", "event": {"userId": "bob", "note": "acme"}}, env("acme", 1, tenant="acme")]
    clean, removed = without_subject("".join(json.dumps(r) + "\n" for r in rows).encode(), s, P)
    assert len(removed) == 1
    assert parse_object(clean).records == [{"tenantId": "acme", "event": {"userId": "bob", "note": REDACTED}}]


def test_binary_heads_are_told_from_records_and_text():
    from anomaly_guardian.erasure.records import looks_binary

    assert looks_binary(b"PK\x03\x04\x14\x00\x00\x00") and looks_binary(b"\x93NUMPY\x01\x00{'descr'")
    assert not looks_binary(gzip.compress(b"{}")[:64]) and not looks_binary('{"userId": "müller"}'.encode()[:-1])


def test_record_boundaries_survive_braces_and_quotes_inside_strings():
    tricky = {"tenantId": "t", "event": {"userId": "bob", "note": 'a}{"b" and }{ and \\"}{'}}
    records = [tricky, env("alice", 1), {"tenantId": "t", "event": {"userId": "carol", "n": {"x": {}}}}]
    data = "".join(json.dumps(r, separators=(",", ":")) for r in records).encode()
    clean, removed = without_subject(data, subject(), P)
    assert [r["event"]["userId"] for r in removed] == ["alice"]
    assert parse_object(clean).records == [records[0], records[2]]
