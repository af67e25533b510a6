"""Bundled location table: every ISO 3166-1 alpha-2 country and every AWS commercial region."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anomaly_guardian.geo import haversine_km, resolve_geo, tables

AWS_COMMERCIAL_REGIONS = {
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-south-1",
    "eu-south-2",
    "eu-north-1",
    "il-central-1",
    "me-south-1",
    "me-central-1",
    "mx-central-1",
    "sa-east-1",
}
SAMPLE_COUNTRIES = {"US", "GB", "DE", "NG", "BR", "JP", "AQ", "VA", "TV", "XK"} - {"XK"}


def test_given_the_table_then_all_249_iso_countries_with_valid_centroids():
    countries, _ = tables()
    assert len(countries) == 249
    assert set(countries) >= SAMPLE_COUNTRIES
    for code, c in countries.items():
        assert len(code) == 2 and code.isupper()
        assert -90 <= c["lat"] <= 90 and -180 <= c["lon"] <= 180


def test_given_the_table_then_every_aws_commercial_region_with_city_and_known_country():
    countries, regions = tables()
    assert set(regions) == AWS_COMMERCIAL_REGIONS
    for r in regions.values():
        assert r["city"] and r["country"] in countries


def test_given_region_locations_when_compared_with_country_centroids_then_plausible():
    countries, regions = tables()
    for code, r in regions.items():
        c = countries[r["country"]]
        assert haversine_km(r["lat"], r["lon"], c["lat"], c["lon"]) < 2 * c.get("r", 250) + 1500, code


def test_given_known_cities_when_distance_then_haversine_is_right():
    assert haversine_km(51.5074, -0.1278, 48.8566, 2.3522) == pytest.approx(344, abs=3)  # London-Paris
    assert haversine_km(40.7128, -74.006, 34.0522, -118.2437) == pytest.approx(3936, abs=15)  # NYC-LA


@given(st.floats(-90, 90), st.floats(-180, 180), st.floats(-90, 90), st.floats(-180, 180))
def test_property_haversine_is_a_bounded_symmetric_distance(a, b, c, d):
    x = haversine_km(a, b, c, d)
    assert 0 <= x <= 20_016 and x == pytest.approx(haversine_km(c, d, a, b), abs=1e-6)


def test_given_every_code_when_resolved_then_a_point():
    countries, regions = tables()
    for code in list(countries) + list(regions):
        point = resolve_geo(code)
        assert point.source in ("country", "region")
