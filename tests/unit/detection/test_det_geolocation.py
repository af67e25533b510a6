"""Geolocation: impossible travel with location uncertainty, first-seen country, one alarm per jump."""

from __future__ import annotations

from anomaly_guardian.detection.geolocation import GeolocationDetector

NYC = {"latitude": 40.71, "longitude": -74.0, "country": "US"}
NYC2 = {"latitude": 40.75, "longitude": -73.95, "country": "US"}
LONDON = {"latitude": 51.5, "longitude": -0.12, "country": "GB"}
LA = {"latitude": 34.05, "longitude": -118.24, "country": "US"}


def home(n=6, start=0.0):
    return [(start + i * 600.0, {"geoLocation": NYC if i % 2 else NYC2}) for i in range(n)]


def test_given_new_york_when_london_30_minutes_later_then_impossible_travel(harness):
    h = harness([GeolocationDetector()])
    assert h.feed(home()) == []
    found = h.feed([(5000, {"geoLocation": LONDON})])
    assert len(found) == 1
    a = found[0]
    assert a.anomalyType == "geolocation" and a.anomalyScore >= 0.75
    speed = a.explanation[0]
    assert speed.feature == "travel_speed_kmh" and speed.observed > 900
    assert any(x.feature == "new_country" for x in a.explanation)


def test_given_a_flight_when_arriving_after_a_plausible_time_then_quiet(harness):
    # New York to Los Angeles (3,900 km) seen 7 hours later: 560 km/h door to door
    h = harness([GeolocationDetector()])
    h.feed(home())
    assert h.feed([(3000 + 7 * 3600, {"geoLocation": LA})]) == []


def test_given_gps_jitter_and_coarse_centroids_when_close_in_time_then_quiet(harness):
    # Given coordinates, then the country code "US" (a centroid 1,900 km away, radius 2,000 km)
    h = harness([GeolocationDetector()])
    rows = [*home(), (3700, {"geoLocation": "US"}), (3710, {"geoLocation": NYC}), (3720, {"geoLocation": "us-east-1"})]
    assert h.feed(rows) == []


def test_given_an_attacker_abroad_when_the_user_comes_back_home_then_only_one_anomaly(harness):
    h = harness([GeolocationDetector()])
    h.feed(home())
    attack = h.feed([(4000, {"geoLocation": LONDON}), (4040, {"geoLocation": LONDON}), (4080, {"geoLocation": LONDON})])
    back = h.feed([(6000, {"geoLocation": NYC})])
    assert len(attack) == 1 and back == []


def test_given_a_user_who_really_moved_when_enough_time_passed_then_accepted(harness):
    h = harness([GeolocationDetector()])
    h.feed(home())
    assert len(h.feed([(4000, {"geoLocation": LONDON})])) == 1
    assert h.feed([(4000 + 12 * 3600, {"geoLocation": LONDON})]) == []
    assert h.feed([(4000 + 13 * 3600, {"geoLocation": LONDON})]) == []


def test_given_history_when_first_event_from_a_new_country_at_plausible_speed_then_medium_anomaly(harness):
    h = harness([GeolocationDetector()])
    h.feed(home())
    found = h.feed([(3000 + 10 * 3600, {"geoLocation": LONDON})])
    assert len(found) == 1 and found[0].severity == "MEDIUM"
    assert found[0].explanation[0].feature == "new_country"
    assert h.feed([(3000 + 30 * 3600, {"geoLocation": LONDON})]) == []  # known now


def test_given_a_brand_new_user_when_their_first_events_are_abroad_then_no_new_country(harness):
    h = harness([GeolocationDetector()])
    assert h.feed([(0, {"geoLocation": LONDON}), (20 * 3600, {"geoLocation": NYC})]) == []
