"""JSON <-> DynamoDB attribute values, and the client honouring AWS_ENDPOINT_URL (no AWS calls)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anomaly_guardian.adapters.dynamodb import client, from_item, reset_clients, to_attr, to_item

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**15), max_value=10**15)
    | st.floats(min_value=-1e125, max_value=1e125, width=64).filter(lambda x: x == 0 or abs(x) >= 1e-130)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(min_size=1, max_size=8), json_values, max_size=6))
def test_round_trip_keeps_types_and_values(doc):
    assert from_item(to_item(doc)) == doc


def test_numbers_keep_int_and_float_apart():
    item = from_item(to_item({"i": 3, "f": 3.0, "small": 1e-7, "big": 12345678901234}))
    assert type(item["i"]) is int and type(item["f"]) is float and item["small"] == 1e-7
    assert item["big"] == 12345678901234


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 1e126, -1e308, 10**38 + 1, -(10**126)])
def test_non_finite_numbers_are_refused(bad):
    with pytest.raises(ValueError, match="cannot store"):
        to_attr(bad)


def test_clients_honour_aws_endpoint_url(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5599")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    reset_clients()
    try:
        ddb = client("dynamodb")
        assert ddb.meta.endpoint_url == "http://127.0.0.1:5599"
        assert client("dynamodb") is ddb  # one client per process
        monkeypatch.delenv("AWS_ENDPOINT_URL")
        reset_clients()
        assert client("kinesis").meta.endpoint_url.startswith("https://kinesis.")
    finally:
        reset_clients()


class Throttling:
    """A fake client that leaves the last item of every request unprocessed `times` times."""

    def __init__(self, times):
        self.times, self.calls, self.written, self.read = times, 0, [], []

    def batch_write_item(self, RequestItems):
        self.calls += 1
        ((table, reqs),) = RequestItems.items()
        if self.times > 0 and len(reqs) > 1:
            self.times -= 1
            self.written.extend(reqs[:-1])
            return {"UnprocessedItems": {table: reqs[-1:]}}
        self.written.extend(reqs)
        return {"UnprocessedItems": {}}

    def batch_get_item(self, RequestItems):
        self.calls += 1
        ((table, req),) = RequestItems.items()
        keys = req["Keys"]
        if self.times > 0 and len(keys) > 1:
            self.times -= 1
            self.read.extend(keys[:-1])
            return {"Responses": {table: keys[:-1]}, "UnprocessedKeys": {table: {**req, "Keys": keys[-1:]}}}
        self.read.extend(keys)
        return {"Responses": {table: keys}, "UnprocessedKeys": {}}


def test_batch_write_retries_only_unprocessed_items_then_gives_up_loudly():
    from anomaly_guardian.adapters.dynamodb import UnprocessedItems, batch_write

    fake = Throttling(times=3)
    reqs = [{"PutRequest": {"Item": {"pk": {"S": str(i)}}}} for i in range(30)]
    assert batch_write(fake, "t", reqs, sleep=lambda _s: None) == 30
    assert sorted(r["PutRequest"]["Item"]["pk"]["S"] for r in fake.written) == sorted(str(i) for i in range(30))

    class Never(Throttling):
        def batch_write_item(self, RequestItems):
            ((table, reqs),) = RequestItems.items()
            return {"UnprocessedItems": {table: reqs}}

    with pytest.raises(UnprocessedItems, match="still unprocessed"):
        batch_write(Never(0), "t", reqs[:3], sleep=lambda _s: None)


def test_batch_get_retries_unprocessed_keys_in_chunks_of_100():
    from anomaly_guardian.adapters.dynamodb import batch_get

    fake = Throttling(times=2)
    keys = [{"pk": {"S": str(i)}} for i in range(250)]
    got = batch_get(fake, "t", keys, sleep=lambda _s: None)
    assert sorted(k["pk"]["S"] for k in got) == sorted(str(i) for i in range(250))
    assert fake.calls == 5  # 3 chunks + 2 retries


def test_numbers_too_close_to_zero_for_dynamodb_are_stored_as_zero():
    assert to_attr(1e-200) == {"N": "0"} and to_attr(-5e-324) == {"N": "0"}
    assert to_attr(1e-130) == {"N": "1e-130"} and to_attr(9.9e125) == {"N": "9.9e+125"}
