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
    | st.floats(allow_nan=False, allow_infinity=False, width=64)
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


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
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
