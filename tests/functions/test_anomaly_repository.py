"""AnomalyRepository against emulated DynamoDB (the table the template creates, keys per internals.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from anomaly_guardian.adapters.anomalies import AnomalyNotFound, AnomalyRepository, InvalidNextToken
from anomaly_guardian.ids import new_ulid
from anomaly_guardian.models.anomaly import Anomaly, Explanation

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def make(tenant="acme", minute=0, severity="HIGH", kind="value", user="u_1", score=0.8):
    at = T0 + timedelta(minutes=minute)
    return Anomaly(
        anomalyId=new_ulid(int(at.timestamp() * 1000)),
        tenantId=tenant,
        severity=severity,
        anomalyScore=score,
        detectedAt=at.isoformat().replace("+00:00", "Z"),
        userId=user,
        anomalyType=kind,
        description="test anomaly",
        originalEvent={"eventId": f"e{minute}", "timestamp": at.isoformat(), "eventType": "transaction"},
    )


@pytest.fixture
def repo(tables):
    return AnomalyRepository("test-anomalies", token_key=b"k" * 32)


def test_put_many_then_get_round_trips_the_contract_fields(repo):
    # Given an anomaly with float score and nested explanation
    a = make(score=0.9731)
    a.explanation = [Explanation(feature="transactionAmount", observed=7200.5, expected=5000.0)]
    # When it is stored and read back
    assert repo.put_many([a]) == 1
    got = repo.get("acme", a.anomalyId)
    # Then every contract field survives, numbers as numbers, and no key attributes leak out
    assert got["anomalyScore"] == 0.9731
    assert got["explanation"][0]["observed"] == 7200.5
    assert got["originalEvent"]["eventId"] == "e0"
    assert not {"pk", "sk", "gsi1pk", "ttl"} & set(got)
    # And another tenant cannot get it by id
    assert repo.get("other", a.anomalyId) is None


def test_put_many_is_an_overwrite_for_the_same_id(repo):
    a = make()
    repo.put_many([a])
    repo.put_many([a])
    items, _ = repo.query("acme")
    assert [i["anomalyId"] for i in items] == [a.anomalyId]


def test_put_many_writes_more_than_one_batch(repo):
    anomalies = [make(minute=i) for i in range(60)]
    assert repo.put_many(anomalies) == 60
    items, token = repo.query("acme", limit=1000)
    assert len(items) == 60 and token is None


def test_query_is_newest_first_and_paginates_without_gaps_or_repeats(repo):
    anomalies = [make(minute=i) for i in range(23)]
    repo.put_many(anomalies)
    seen, token, pages = [], None, 0
    while True:
        items, token = repo.query("acme", limit=5, next_token=token)
        seen.extend(i["anomalyId"] for i in items)
        pages += 1
        if token is None:
            break
    assert seen == [a.anomalyId for a in reversed(anomalies)]
    assert pages == 5


def test_filters_combine_and_time_range_is_inclusive(repo):
    repo.put_many(
        [
            make(minute=0, severity="HIGH", kind="value", user="u_a"),
            make(minute=10, severity="LOW", kind="value", user="u_a"),
            make(minute=20, severity="HIGH", kind="velocity", user="u_b"),
            make(minute=30, severity="HIGH", kind="value", user="u_b"),
            make(minute=40, severity="CRITICAL", kind="value", user="u_a"),
            make(tenant="other", minute=20, severity="HIGH", kind="value", user="u_b"),
        ]
    )

    def ids(**kw):
        return [i["originalEvent"]["eventId"] for i in repo.query("acme", **kw)[0]]

    assert ids(severity="HIGH") == ["e30", "e20", "e0"]
    assert ids(user_id="u_a") == ["e40", "e10", "e0"]
    assert ids(anomaly_type="value", severity="HIGH") == ["e30", "e0"]
    assert ids(user_id="u_b", anomaly_type="value") == ["e30"]
    assert ids(severity="LOW", anomaly_type="value") == ["e10"]
    assert ids(from_date=T0 + timedelta(minutes=10), to_date=T0 + timedelta(minutes=30)) == ["e30", "e20", "e10"]
    assert ids(from_date="2026-03-01T12:20:00Z") == ["e40", "e30", "e20"]
    assert ids(to_date="2026-03-01T12:00:00Z") == ["e0"]
    assert ids(severity="HIGH", from_date=T0 + timedelta(minutes=5)) == ["e30", "e20"]


def test_filtered_page_still_returns_a_usable_token(repo):
    # Given many LOW anomalies between a few HIGH ones of type value (filter on the type index)
    batch = [make(minute=i, severity="LOW" if i % 4 else "HIGH", kind="value") for i in range(40)]
    repo.put_many(batch)
    wanted = [a.anomalyId for a in reversed(batch) if a.severity == "HIGH"]
    got, token = [], None
    while True:
        items, token = repo.query("acme", anomaly_type="value", severity="MEDIUM", limit=3, next_token=token)
        got.extend(items)
        if token is None:
            break
    assert got == []  # no MEDIUM at all: pages come back empty but terminate
    got, token = [], None
    while True:
        items, token = repo.query("acme", severity="HIGH", anomaly_type="value", limit=3, next_token=token)
        got.extend(i["anomalyId"] for i in items)
        if token is None:
            break
    assert got == wanted


def test_next_token_cannot_be_used_for_another_tenant_or_filter_or_edited(repo):
    repo.put_many([make(minute=i) for i in range(5)] + [make(tenant="other", minute=i) for i in range(5)])
    _, token = repo.query("acme", limit=2)
    assert token
    with pytest.raises(InvalidNextToken):
        repo.query("other", limit=2, next_token=token)
    with pytest.raises(InvalidNextToken):
        repo.query("acme", limit=2, severity="HIGH", next_token=token)
    body, sig = token.rsplit(".", 1)
    import base64
    import json

    key = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    key["pk"]["S"] = "T#other"
    forged = base64.urlsafe_b64encode(json.dumps(key, sort_keys=True, separators=(",", ":")).encode()).decode()
    with pytest.raises(InvalidNextToken):
        repo.query("acme", limit=2, next_token=f"{forged.rstrip('=')}.{sig}")
    with pytest.raises(InvalidNextToken):
        repo.query("acme", limit=2, next_token="garbage")
    # A token signed with a different key is refused too
    other_repo = AnomalyRepository("test-anomalies", token_key=b"x" * 32)
    with pytest.raises(InvalidNextToken):
        other_repo.query("acme", limit=2, next_token=token)


def test_limit_bounds_are_enforced(repo):
    with pytest.raises(ValueError, match="limit"):
        repo.query("acme", limit=0)
    with pytest.raises(ValueError, match="limit"):
        repo.query("acme", limit=1001)


def test_feedback_and_actions_update_one_item(repo):
    a = make()
    repo.put_many([a])
    out = repo.set_feedback("acme", a.anomalyId, {"isTruePositive": False, "note": "known customer"})
    assert out["feedback"]["isTruePositive"] is False
    repo.update_actions("acme", a.anomalyId, [{"type": "rate_limit", "status": "DRY_RUN"}])
    out = repo.update_actions("acme", a.anomalyId, [{"type": "notify", "status": "SENT"}])
    assert [x["type"] for x in out["actionsPerformed"]] == ["rate_limit", "notify"]
    assert repo.get("acme", a.anomalyId)["feedback"]["note"] == "known customer"
    with pytest.raises(AnomalyNotFound):
        repo.set_feedback("other", a.anomalyId, {"isTruePositive": True})
    with pytest.raises(AnomalyNotFound):
        repo.update_actions("acme", new_ulid(), [{"type": "notify"}])


def test_delete_user_erases_only_that_users_anomalies(repo):
    repo.put_many([make(minute=i, user="u_gone") for i in range(30)] + [make(minute=50, user="u_stays")])
    repo.put_many([make(tenant="other", minute=1, user="u_gone")])
    assert repo.delete_user("acme", "u_gone") == 30
    assert [i["userId"] for i in repo.query("acme")[0]] == ["u_stays"]
    assert len(repo.query("other")[0]) == 1


def test_ttl_is_set_from_detected_at(repo):
    from anomaly_guardian.adapters.dynamodb import client

    a = make()
    repo.put_many([a])
    item = client("dynamodb").get_item(
        TableName=repo.table, Key={"pk": {"S": "T#acme"}, "sk": {"S": f"A#{a.anomalyId}"}}
    )["Item"]
    assert int(item["ttl"]["N"]) == int(T0.timestamp()) + 365 * 86400
    assert item["gsi2pk"]["S"] == "T#acme#Y#value" and item["gsi3sk"]["S"] == f"A#{a.anomalyId}"


def test_one_item_dynamodb_cannot_keep_does_not_take_the_others_with_it(repo):
    from anomaly_guardian.models.anomaly import AnomaliesRejected

    good = [make(minute=i) for i in range(30)]  # more than one BatchWriteItem chunk
    bad = make(minute=99)
    bad.explanation = [Explanation(feature="transactionAmount", observed=1e200, expected=1.0)]
    with pytest.raises(AnomaliesRejected) as caught:
        repo.put_many([*good[:10], bad, *good[10:]])
    assert [aid for aid, _ in caught.value.rejected] == [bad.anomalyId]
    assert "cannot store the number" in caught.value.rejected[0][1] and caught.value.stored == 30
    assert all(repo.get("acme", a.anomalyId) for a in good) and repo.get("acme", bad.anomalyId) is None


def test_a_validation_error_from_dynamodb_is_narrowed_to_the_refused_item(repo, monkeypatch):
    from botocore.exceptions import ClientError

    from anomaly_guardian.models.anomaly import AnomaliesRejected

    items = [make(minute=i) for i in range(3)]
    refused = {f"A#{items[1].anomalyId}"}
    real_put = repo.ddb.put_item

    def validation(*_a, **_k):
        raise ClientError({"Error": {"Code": "ValidationException", "Message": "Number overflow"}}, "BatchWriteItem")

    def put_item(**kw):
        if kw["Item"]["sk"]["S"] in refused:
            raise ClientError({"Error": {"Code": "ValidationException", "Message": "Number overflow"}}, "PutItem")
        return real_put(**kw)

    monkeypatch.setattr(repo.ddb, "batch_write_item", validation)
    monkeypatch.setattr(repo.ddb, "put_item", put_item)
    with pytest.raises(AnomaliesRejected) as caught:
        repo.put_many(items)
    assert caught.value.rejected == [(items[1].anomalyId, "Number overflow")]
    assert repo.get("acme", items[0].anomalyId) and repo.get("acme", items[2].anomalyId)
