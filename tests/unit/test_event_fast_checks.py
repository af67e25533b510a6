"""The event contract's fast paths (issue 16) say exactly what the general walk says.

`event_problem` skips the recursive `storable_problem` walk for plain strings, ordinary numbers and flat
maps of them; Given edge values on both sides of every limit, When checked, Then the answer (problem or
none, and its wording) equals the general walk's.
"""

from __future__ import annotations

import pytest

from anomaly_guardian.detection.rules import RuleDetector, no_rules
from anomaly_guardian.models.event import event_problem, storable_problem

EDGES = [
    0.0,
    -0.0,
    1.5,
    -2.25,
    1e-130,
    9.9e-131,
    -1e-131,
    1e125,
    9.99e125,
    1e126,
    -1e126,
    float("nan"),
    float("inf"),
    float("-inf"),
    0,
    7,
    -(10**15) + 1,
    10**15,
    10**38,
    10**39 + 1,
    -(10**40),
    True,
    False,
    None,
    "text",
    "",
]


def _reference(data: dict) -> str | None:
    for name, value in data.items():
        if not isinstance(value, str):
            problem = storable_problem(value, 2)
            if problem:
                return f"Invalid field {name}: {problem}"
    return None


@pytest.mark.parametrize("value", EDGES, ids=repr)
def test_given_an_edge_value_when_checked_alone_or_in_a_map_then_the_fast_path_agrees(value):
    for data in (
        {"metricValue": value},
        {"geoLocation": {"latitude": value, "longitude": 1.0}},
        {"metadata": {"k": value, "": 1}},
        {"metadata": {"k" * 256: value}},
        {"metadata": {"page": "/x", "nested": {"v": value}}},
        {"metadata": [value]},
    ):
        assert event_problem(data) == _reference(data), data


def test_given_no_rule_provider_when_asked_twice_then_the_compiled_checks_are_reused():
    detector = RuleDetector()
    assert no_rules("a") is no_rules("b")
    detector._checks("acme")
    compiled = detector._compiled["acme"]
    detector._checks("acme")
    assert detector._compiled["acme"] is compiled
