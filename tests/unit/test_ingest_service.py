"""POST /events rules without AWS: validation, limits, tenancy, block list, partial-failure retries."""

from __future__ import annotations

import base64
import json

import pytest

from anomaly_guardian.ingest.envelope import decode_record, partition_key
from anomaly_guardian.ingest.service import MAX_BODY_BYTES, IngestRequest, IngestService
from anomaly_guardian.models.event import InvalidEvent
from anomaly_guardian.privacy import Pseudonymiser

NOW = "2026-03-01T12:00:05.000Z"


def ev(i=1, **kw):
    return {"eventId": f"e{i}", "userId": f"user-{i}", "timestamp": "2026-03-01T12:00:00Z", "eventType": "login"} | kw


class FakeSink:
    """Fails the entries whose eventId is in `fail` for the first `times` calls they appear in."""

    def __init__(self, fail=(), times=1):
        self.fail = {f: times for f in fail}
        self.calls: list[list[tuple[bytes, str]]] = []
        self.landed: list[bytes] = []

    def put(self, entries):
        self.calls.append(list(entries))
        out = []
        for data, _key in entries:
            eid = json.loads(data)["event"]["eventId"]
            if self.fail.get(eid, 0) > 0:
                self.fail[eid] -= 1
                out.append("ProvisionedThroughputExceededException")
            else:
                self.landed.append(data)
                out.append(None)
        return out


class FakeBlockList:
    def __init__(self, entries=()):
        self.entries = set(entries)

    def blocked(self, tenant, ips, users):
        return {e for e in self.entries if (e[0] == "IP" and e[1] in ips) or (e[0] == "USER" and e[1] in users)}


def service(sink=None, blocklist=None):
    return IngestService(sink or FakeSink(), blocklist, Pseudonymiser(b"k"), clock=lambda: NOW, sleep=lambda _s: None)


def req(body, tenant="acme", content_type="application/json", source_ip="198.51.100.1", is_base64=False):
    if not isinstance(body, (str, bytes)):
        body = json.dumps(body)
    return IngestRequest(body=body, content_type=content_type, tenant=tenant, source_ip=source_ip, is_base64=is_base64)


def test_single_event_is_accepted_with_the_contract_body_and_envelope():
    sink = FakeSink()
    out = service(sink).handle(req(ev(7, transactionAmount=12.5, eventType="transaction")))
    assert out.status == 202
    assert out.body == {
        "status": "success",
        "message": "Event received",
        "eventId": "e7",
        "accepted": 1,
        "duplicates": [],
        "timestamp": NOW,
    }
    ((data, key),) = sink.calls[0]
    env = decode_record(data)
    assert env.tenantId == "acme" and env.event.eventId == "e7" and key == "acme#user-7"
    assert json.loads(data)["event"]["transactionAmount"] == 12.5


def test_batch_reports_count_and_ids_and_uses_entity_partition_keys():
    sink = FakeSink()
    metric = ev(3, eventType="metric", service="checkout", metricName="p99", metricValue=3.0)
    out = service(sink).handle(req({"events": [ev(1), ev(2), metric]}))
    assert out.status == 202 and out.body["accepted"] == 3 and out.body["eventIds"] == ["e1", "e2", "e3"]
    assert [k for _, k in sink.calls[0]] == ["acme#user-1", "acme#user-2", "acme#checkout#p99"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({k: v for k, v in ev().items() if k != "userId"}, "Missing required field: userId"),
        (ev(timestamp="yesterday"), "Invalid field timestamp"),
        ({"events": [ev(1), ev(2), ev(3), {**ev(4), "userId": None}]}, "events[3]: Invalid field userId"),
        (
            {"events": [ev(1), ev(2), ev(3), {"eventId": "x", "timestamp": "2026-03-01T12:00:00Z", "eventType": "a"}]},
            "events[3]: Missing required field: userId",
        ),
        ({"events": [ev(1), ev(1)]}, "events[1]: Duplicate eventId 'e1' (also at events[0])"),
        ({"events": [ev(1), ev(2, tenantId="other")]}, "events[1]: Field tenantId is not accepted"),
        (ev(tenantId="other"), "Field tenantId is not accepted"),
        ({"events": []}, "at least one event"),
        ({"events": [ev(i) for i in range(501)]}, "at most 500 events"),
        ("{not json", "Malformed JSON"),
        ("", "Request body is empty"),
        (ev(eventType="metric", service="s", metricName="m"), "metricValue"),
    ],
)
def test_invalid_payloads_are_400_naming_the_problem_and_write_nothing(body, message):
    sink = FakeSink()
    out = service(sink).handle(req(body))
    assert out.status == 400, out.body
    assert out.body["status"] == "error" and out.body["code"] == "INVALID_PAYLOAD"
    assert message in out.body["message"]
    assert sink.calls == []


@pytest.mark.parametrize("ctype", ["application/json", "application/json; charset=utf-8", "Application/JSON"])
def test_json_content_types_are_accepted(ctype):
    assert service().handle(req(ev(), content_type=ctype)).status == 202


@pytest.mark.parametrize("ctype", [None, "", "text/plain", "application/x-www-form-urlencoded", "application/jsonx"])
def test_other_content_types_are_415(ctype):
    sink = FakeSink()
    out = service(sink).handle(req(ev(), content_type=ctype))
    assert out.status == 415 and out.body["code"] == "UNSUPPORTED_MEDIA_TYPE" and sink.calls == []


def test_body_over_one_mib_is_413():
    sink = FakeSink()
    body = json.dumps({"events": [ev(1, metadata={"pad": "x" * (MAX_BODY_BYTES + 10)})]})
    out = service(sink).handle(req(body))
    assert out.status == 413 and out.body["code"] == "PAYLOAD_TOO_LARGE" and sink.calls == []


def test_one_event_over_64_kib_is_413_naming_it():
    sink = FakeSink()
    out = service(sink).handle(req({"events": [ev(1), ev(2, metadata={"pad": "x" * 70_000})]}))
    assert out.status == 413 and out.body["message"].startswith("events[1] is ") and sink.calls == []


def test_base64_bodies_are_decoded():
    body = base64.b64encode(json.dumps(ev(5)).encode())
    assert service().handle(req(body, is_base64=True)).body["eventId"] == "e5"
    assert service().handle(req(b"!!notbase64", is_base64=True)).status == 400


@pytest.mark.parametrize("tenant", [None, "", "a#b", "x" * 65, "../etc"])
def test_missing_or_malformed_tenant_is_401(tenant):
    sink = FakeSink()
    out = service(sink).handle(req(ev(), tenant=tenant))
    assert out.status == 401 and out.body["code"] == "UNAUTHORIZED" and sink.calls == []


def test_blocked_source_ip_is_403():
    sink = FakeSink()
    out = service(sink, FakeBlockList({("IP", "198.51.100.1")})).handle(req(ev()))
    assert out.status == 403 and out.body["code"] == "SOURCE_BLOCKED" and sink.calls == []


def test_blocked_event_ip_or_user_pseudonym_is_403_naming_the_events():
    sink = FakeSink()
    user = Pseudonymiser(b"k").user("acme", "user-3")
    blocks = FakeBlockList({("IP", "203.0.113.9"), ("USER", user)})
    body = {"events": [ev(1), ev(2, ipAddress="203.0.113.9"), ev(3)]}
    out = service(sink, blocks).handle(req(body))
    assert out.status == 403 and out.body["code"] == "EVENT_BLOCKED"
    assert out.body["message"].startswith("events[1, 2]:")
    assert sink.calls == []
    # a user blocked in another tenant does not block this one
    assert service(FakeSink(), blocks).handle(req(ev(3), tenant="globex")).status == 202


def test_partial_put_failure_retries_only_the_failed_records():
    sink = FakeSink(fail={"e2", "e4"}, times=2)
    out = service(sink).handle(req({"events": [ev(i) for i in range(1, 6)]}))
    assert out.status == 202 and out.body["accepted"] == 5
    assert [len(c) for c in sink.calls] == [5, 2, 2]
    landed = [json.loads(d)["event"]["eventId"] for d in sink.landed]
    assert sorted(landed) == ["e1", "e2", "e3", "e4", "e5"]  # each exactly once


def test_records_that_never_land_are_503_and_named():
    sink = FakeSink(fail={"e2"}, times=99)
    out = service(sink).handle(req({"events": [ev(1), ev(2), ev(3)]}))
    assert out.status == 503 and out.body["code"] == "UNAVAILABLE"
    assert out.body["notAccepted"] == ["e2"] and out.body["acceptedEventIds"] == ["e1", "e3"]
    assert len(sink.calls) == 4  # bounded: initial + 3 retries


def test_partition_keys_over_256_chars_are_hashed_but_stable():
    long_user = "u" * 300
    key = partition_key("acme", {"userId": long_user, "eventType": "login"})
    assert len(key) <= 256 and key.startswith("acme#h#")
    assert key == partition_key("acme", {"userId": long_user, "eventType": "login"})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not json", "Malformed JSON"),
        (b'{"receivedAt":"2026-03-01T12:00:00Z","event":{}}', "Missing required field: tenantId"),
        (b'{"tenantId":"a#b","receivedAt":"2026-03-01T12:00:00Z","event":{}}', "Invalid field tenantId"),
        (
            b'{"tenantId":"acme","receivedAt":"2026-03-01T12:00:00Z","event":{"eventId":"1","timestamp":"2026-03-01T12:00:00Z","eventType":"x"}}',
            "Missing required field: event.userId",
        ),
    ],
)
def test_decode_record_names_the_broken_field(data, message):
    with pytest.raises(InvalidEvent, match=message.replace("[", r"\[")):
        decode_record(data)


def test_iam_callers_map_by_arn_assumed_role_or_account():
    from anomaly_guardian.ingest.service import request_from_apigw

    def event(arn, account="111122223333"):
        return {"headers": {}, "requestContext": {"identity": {"userArn": arn, "accountId": account}}}

    mapping = {"arn:aws:iam::111122223333:role/producer": "acme", "444455556666": "globex"}
    session = "arn:aws:sts::111122223333:assumed-role/producer/i-0abc"
    assert request_from_apigw(event(session), mapping).tenant == "acme"
    assert request_from_apigw(event("arn:aws:iam::111122223333:role/producer"), mapping).tenant == "acme"
    assert (
        request_from_apigw(event("arn:aws:sts::444455556666:assumed-role/x/y", "444455556666"), mapping).tenant
        == "globex"
    )
    assert request_from_apigw(event("arn:aws:sts::999:assumed-role/producer/s", "999"), mapping).tenant is None


@pytest.mark.parametrize(
    "body",
    [
        '{"eventId":"x","userId":"u","timestamp":"2026-03-02T10:00:00Z","eventType":"x","metadata":{"a":"\\ud800"}}',
        '{"eventId":"x","userId":"u","timestamp":"2026-03-02T10:00:00Z","eventType":"x","note":"\\udc00"}',
        b"\xff\xfe\x00",
        b'{"eventId": "\xc3\x28"}',
        '{"eventId":"x","userId":"u","timestamp":"2026-03-02T10:00:00Z","eventType":"x","metadata":{"a":NaN}}',
        '{"eventId":"x","userId":"u","timestamp":"2026-03-02T10:00:00Z","eventType":"x","metadata":{"a":1e400}}',
    ],
)
def test_text_that_is_not_valid_unicode_is_400_not_a_crash(body):
    sink = FakeSink()
    out = service(sink).handle(req(body))
    assert out.status == 400 and out.body["code"] == "INVALID_PAYLOAD" and sink.calls == []


class ReadTimeoutError(Exception):
    """Named like botocore's: the emulation (or AWS) stalled past the client's read timeout."""


def test_a_stalled_block_list_is_a_503_with_retry_after_and_nothing_accepted():
    class Stalled:
        def blocked(self, *_a):
            raise ReadTimeoutError("read timeout")

    sink = FakeSink()
    resp = service(sink, Stalled()).handle(req({"events": [ev(1), ev(2)]}))
    assert resp.status == 503 and resp.headers == {"Retry-After": "5"}
    assert resp.body["accepted"] == 0 and resp.body["notAccepted"] == ["e1", "e2"] and sink.landed == []


def test_a_stream_timeout_mid_request_is_a_503_naming_what_was_and_was_not_accepted():
    class TimesOutOnSecondCall(FakeSink):
        def put(self, entries):
            if len(self.calls) >= 1:
                self.calls.append(list(entries))
                raise ReadTimeoutError("read timeout")
            return super().put(entries)

    sink = TimesOutOnSecondCall(fail={"e2"})
    resp = service(sink).handle(req({"events": [ev(1), ev(2), ev(3)]}))
    assert resp.status == 503 and resp.headers["Retry-After"] == "5"
    assert resp.body["acceptedEventIds"] == ["e1", "e3"] and resp.body["notAccepted"] == ["e2"]
    assert resp.accepted == 2


def test_a_non_transient_stream_error_is_not_reported_as_unavailable():
    class Broken(FakeSink):
        def put(self, entries):
            raise KeyError("bug")

    with pytest.raises(KeyError):
        service(Broken()).handle(req(ev(1)))


class FakeReceipts:
    """The receipts port in memory; `fail_reads`/`fail_writes` raise a transient error."""

    def __init__(self, fail_reads=False, fail_writes=False):
        self.items: dict[tuple[str, str], str] = {}
        self.fail_reads = fail_reads
        self.fail_writes = fail_writes

    def previous(self, tenant, event_ids):
        if self.fail_reads:
            raise TimeoutError("read timed out")
        return {i: self.items[(tenant, i)] for i in event_ids if (tenant, i) in self.items}

    def record(self, tenant, digests):
        if self.fail_writes:
            raise TimeoutError("write timed out")
        self.items |= {(tenant, i): d for i, d in digests.items()}


def with_receipts(sink, receipts):
    return IngestService(sink, None, Pseudonymiser(b"k"), receipts=receipts, clock=lambda: NOW, sleep=lambda _s: None)


def landed_ids(sink):
    return [json.loads(d)["event"]["eventId"] for d in sink.landed]


def test_a_different_payload_under_an_accepted_event_id_is_reported_and_not_sent():
    sink, receipts = FakeSink(), FakeReceipts()
    svc = with_receipts(sink, receipts)
    assert svc.handle(req(ev(1, transactionAmount=10))).status == 202

    out = svc.handle(req(ev(1, transactionAmount=9999)))

    assert out.status == 202 and out.duplicates == 1 and out.accepted == 0
    assert out.body["accepted"] == 0 and out.body["eventId"] == "e1"
    (dup,) = out.body["duplicates"]
    assert dup["eventId"] == "e1" and dup["reason"] == "DIFFERENT_PAYLOAD"
    assert "already accepted with a different payload" in dup["message"] == out.body["message"]
    assert landed_ids(sink) == ["e1"]  # the second payload never reached the stream


def test_a_retry_with_the_same_payload_is_accepted_and_not_sent_again():
    sink, receipts = FakeSink(), FakeReceipts()
    svc = with_receipts(sink, receipts)
    first = svc.handle(req(ev(1, transactionAmount=10)))
    # the same event, keys in another order: the same payload
    again = svc.handle(req(json.dumps(dict(reversed(list(ev(1, transactionAmount=10).items()))))))
    assert first.body["accepted"] == again.body["accepted"] == 1
    assert again.body["message"] == "Event received" and again.body["duplicates"] == []
    assert landed_ids(sink) == ["e1"]


def test_a_batch_sends_the_new_events_and_names_the_duplicates_by_index():
    sink, receipts = FakeSink(), FakeReceipts()
    svc = with_receipts(sink, receipts)
    svc.handle(req({"events": [ev(1), ev(2)]}))

    out = svc.handle(req({"events": [ev(3), ev(2), ev(1, eventType="logout")]}))

    assert out.status == 202
    assert out.body["accepted"] == 2 and out.body["eventIds"] == ["e3", "e2"]
    assert [(d["eventId"], d["index"], d["reason"]) for d in out.body["duplicates"]] == [("e1", 2, "DIFFERENT_PAYLOAD")]
    assert out.body["duplicates"][0]["message"].startswith("events[2]: eventId 'e1'")
    assert "1 not accepted" in out.body["message"]
    assert landed_ids(sink) == ["e1", "e2", "e3"]


def test_event_ids_are_per_tenant():
    sink, receipts = FakeSink(), FakeReceipts()
    svc = with_receipts(sink, receipts)
    svc.handle(req(ev(1), tenant="acme"))
    out = svc.handle(req(ev(1, eventType="logout"), tenant="globex"))
    assert out.body["duplicates"] == [] and landed_ids(sink) == ["e1", "e1"]


def test_only_landed_events_get_a_receipt_so_a_retry_after_a_503_sends_the_rest():
    sink, receipts = FakeSink(fail=["e2"], times=10), FakeReceipts()
    svc = with_receipts(sink, receipts)
    out = svc.handle(req({"events": [ev(1), ev(2)]}))
    assert out.status == 503 and out.body["acceptedEventIds"] == ["e1"] and out.body["notAccepted"] == ["e2"]
    assert out.body["duplicates"] == []
    sink.fail.clear()

    again = svc.handle(req({"events": [ev(1), ev(2)]}))

    assert again.status == 202 and again.body["eventIds"] == ["e1", "e2"]
    assert landed_ids(sink) == ["e1", "e2"]  # e1 not sent twice, e2 sent once


def test_unreadable_receipts_are_a_503_that_accepts_nothing():
    sink = FakeSink()
    out = with_receipts(sink, FakeReceipts(fail_reads=True)).handle(req({"events": [ev(1), ev(2)]}))
    assert out.status == 503 and out.headers == {"Retry-After": "5"}
    assert out.body["accepted"] == 0 and out.body["notAccepted"] == ["e1", "e2"] and sink.calls == []


def test_receipts_that_cannot_be_written_do_not_undo_an_acceptance():
    sink = FakeSink()
    out = with_receipts(sink, FakeReceipts(fail_writes=True)).handle(req(ev(1)))
    assert out.status == 202 and out.body["accepted"] == 1 and landed_ids(sink) == ["e1"]


def test_a_late_request_answers_without_writing_receipts():
    sink, receipts = FakeSink(), FakeReceipts()
    ticks = iter([0.0, 8.0])  # started, then 8 s later when the receipts would be written
    svc = IngestService(
        sink, None, Pseudonymiser(b"k"), receipts=receipts, clock=lambda: NOW, timer=lambda: next(ticks)
    )
    out = svc.handle(req(ev(1)))
    assert out.status == 202 and landed_ids(sink) == ["e1"] and receipts.items == {}
