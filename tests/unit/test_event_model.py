"""The event contract: every geoLocation form, and errors that name the field and the problem."""

from __future__ import annotations

import json
from datetime import UTC

import pytest

from anomaly_guardian.models.event import InvalidEvent, parse_event

BASE = {"eventId": "e1", "userId": "u1", "timestamp": "2026-03-02T10:00:00Z", "eventType": "login"}


def parse(**kw):
    body = {**BASE, **kw}
    return parse_event(json.dumps({k: v for k, v in body.items() if v is not ...}))


@pytest.mark.parametrize("field", ["eventId", "userId", "timestamp", "eventType"])
def test_given_a_missing_required_field_when_parsed_then_error_names_it(field):
    with pytest.raises(InvalidEvent) as exc:
        parse(**{field: ...})
    assert exc.value.message == f"Missing required field: {field}"
    assert exc.value.field == field and exc.value.code == "INVALID_PAYLOAD"


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"transactionAmount": -5}, "transactionAmount"),
        ({"transactionAmount": "lots"}, "transactionAmount"),
        ({"requestsPerSecond": -1}, "requestsPerSecond"),
        ({"metadata": [1, 2]}, "metadata"),
        ({"geoLocation": {"latitude": 95, "longitude": 0}}, "geoLocation.latitude"),
        ({"geoLocation": {"latitude": 10}}, "longitude"),
        ({"geoLocation": "Atlantis"}, "unknown location 'Atlantis'"),
        ({"geoLocation": 42}, "geoLocation"),
        ({"eventType": "metric", "service": "api", "metricName": "cpu"}, "metricValue"),
    ],
)
def test_given_an_invalid_field_when_parsed_then_error_names_field_and_problem(fields, needle):
    with pytest.raises(InvalidEvent) as exc:
        parse(**fields)
    assert needle in exc.value.message


def test_given_malformed_json_when_parsed_then_clear_error():
    with pytest.raises(InvalidEvent, match="Malformed JSON"):
        parse_event(b'{"eventId": ')


def test_given_geo_as_coordinates_when_parsed_then_precise_point():
    g = parse(geoLocation={"latitude": 48.85, "longitude": 2.35, "country": "fr", "city": "Paris"}).geoLocation
    assert (g.latitude, g.longitude, g.country, g.city, g.source, g.radius_km) == (
        48.85,
        2.35,
        "FR",
        "Paris",
        "coordinates",
        0.0,
    )


def test_given_geo_object_claiming_a_source_when_parsed_then_claim_ignored():
    g = parse(geoLocation={"latitude": 1, "longitude": 2, "source": "region", "radius_km": 5000}).geoLocation
    assert g.source == "coordinates" and g.radius_km == 0.0


@pytest.mark.parametrize("code", ["DE", "de", " de "])
def test_given_geo_as_iso_country_when_parsed_then_centroid_with_uncertainty(code):
    g = parse(geoLocation=code).geoLocation
    assert g.country == "DE" and g.source == "country" and g.radius_km > 0
    assert 47 < g.latitude < 55 and 5 < g.longitude < 15


@pytest.mark.parametrize(
    ("code", "country", "city"), [("us-east-1", "US", "N. Virginia"), ("AP-SOUTHEAST-2", "AU", "Sydney")]
)
def test_given_geo_as_aws_region_when_parsed_then_region_city(code, country, city):
    g = parse(geoLocation=code).geoLocation
    assert (g.country, g.city, g.source) == (country, city, "region")


def test_given_naive_or_offset_timestamps_when_parsed_then_utc():
    assert parse(timestamp="2026-03-02T10:00:00").timestamp.tzinfo is not None
    ts = parse(timestamp="2026-03-02T12:00:00+02:00").timestamp
    assert ts.astimezone(UTC).hour == 10


def test_given_unknown_event_type_and_extra_fields_when_parsed_then_accepted():
    e = parse(eventType="password_reset", channel="sms")
    assert e.eventType == "password_reset"
