"""Strict JSON bodies and error messages: Given hostile bodies, Then a decode error naming the problem."""

import json

import pytest

from anomaly_guardian.api.body import MAX_BODY_BYTES, MAX_DEPTH, decode_body
from anomaly_guardian.api.errors import ApiError, describe_validation_errors
from anomaly_guardian.cli import main as guardian


def test_valid_body_round_trips_including_odd_unicode():
    doc = {"a": ["é", "大", "🚨", "\u200b", "\u202e"], "n": 1.5}
    assert decode_body(json.dumps(doc)) == doc


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "nesting deeper"),
        ('{"a": NaN}', "NaN is not valid JSON"),
        ('{"a": -Infinity}', "-Infinity is not valid JSON"),
        ('{"a": "\\udc00"}', "unpaired surrogate"),
        ('{"\\ud800": 1}', "unpaired surrogate"),
        ('{"a": "x\\u0000"}', "NUL"),
        ("{'a': 1}", "Expecting property name"),
        ('{"a": 1e999}', "out of range"),
        ('{"a": ' + "9" * 40 + "}", "more than 30 digits"),
    ],
)
def test_hostile_bodies_raise_decode_errors(body, problem):
    with pytest.raises(json.JSONDecodeError) as err:
        decode_body(body)
    assert problem in err.value.msg


def test_max_depth_itself_is_fine():
    assert decode_body("[" * MAX_DEPTH + "]" * MAX_DEPTH)


def test_oversized_body_is_413():
    with pytest.raises(ApiError) as err:
        decode_body(json.dumps({"a": "x" * MAX_BODY_BYTES}))
    assert (err.value.status, err.value.code) == (413, "PAYLOAD_TOO_LARGE")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            {"loc": ("query", "limit"), "type": "less_than_equal", "msg": "Input should be <= 1000"},
            "Invalid query parameter limit: Input should be <= 1000",
        ),
        (
            {"loc": ("body", "conditions", "metric"), "type": "enum", "msg": "Input should be 'a'"},
            "Invalid field conditions.metric: Input should be 'a'",
        ),
        ({"loc": ("body", "label"), "type": "missing", "msg": "Field required"}, "Missing required field: label"),
        ({"loc": ("body",), "type": "missing", "msg": "Field required"}, "Request body is required (a JSON object)"),
        (
            {
                "loc": ("body", 3),
                "type": "json_invalid",
                "msg": "JSON decode error",
                "ctx": {"error": "Expecting value"},
            },
            "Malformed JSON: Expecting value",
        ),
        (
            {"loc": ("body", "x"), "type": "value_error", "msg": "Value error, timeWindow is required"},
            "Invalid field x: timeWindow is required",
        ),
    ],
)
def test_validation_errors_become_one_sentence(error, expected):
    assert describe_validation_errors([error])[1] == expected


@pytest.mark.parametrize("argv", [["--tenant", "a#b"], ["--tenant", "acme", "--ttl", "0"]])
def test_guardian_token_refuses_bad_arguments(argv, capsys, monkeypatch):
    monkeypatch.delenv("TOKEN_SIGNING_KEY_PARAM", raising=False)
    assert guardian(["token", *argv]) == 2
    assert "guardian token:" in capsys.readouterr().err


def test_cli_client_refuses_plain_http_to_remote_hosts_and_prefers_guardian_token(monkeypatch):
    from anomaly_guardian.api.client import ApiClient, bearer_for

    with pytest.raises(ValueError, match="https"):
        ApiClient("http://api.example.com", "t")
    monkeypatch.setenv("GUARDIAN_TOKEN", "given-token")
    assert bearer_for("acme") == "given-token"
    monkeypatch.delenv("GUARDIAN_TOKEN")
    with pytest.raises(ValueError, match="--tenant"):
        bearer_for(None)


def test_rules_command_needs_an_api_url(monkeypatch, capsys):
    monkeypatch.delenv("GUARDIAN_API_URL", raising=False)
    assert guardian(["rules", "list"]) == 2
    assert "GUARDIAN_API_URL" in capsys.readouterr().err
