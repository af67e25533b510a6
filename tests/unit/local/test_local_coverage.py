"""The template-coverage checker on synthetic stack counters (pure)."""

from __future__ import annotations

import copy
from pathlib import Path

from anomaly_guardian.local.cfn import load_template
from anomaly_guardian.local.coverage import expected, gaps

ROOT = Path(__file__).resolve().parents[3]


def full_stats(template: dict) -> dict:
    keys = expected(template)
    functions = {k: {"invocations": 1} for k, v in template["Resources"].items() if v["Type"].endswith("Function")}
    return {"functions": functions, "deliveries": {key: 1 for ks in keys.values() for key in ks}}


def test_everything_counted_is_no_gap_and_each_missing_count_is_named():
    template = load_template(ROOT / "sam" / "template.yaml")
    stats = full_stats(template)
    assert gaps(template, stats) == []
    assert "DetectorFunction.Stream" in expected(template)["DetectorFunction"]
    assert "SearchIndexerFunction.AnomaliesStream" in expected(template)["SearchIndexerFunction"]
    stats["deliveries"]["SearchIndexerFunction.AnomaliesStream"] = 0
    stats["functions"]["ActionsFunction"]["invocations"] = 0
    assert gaps(template, stats) == [
        "SearchIndexerFunction.AnomaliesStream: no DynamoDB event delivered locally",
        "ActionsFunction: function never invoked",
    ]


def test_a_new_function_or_event_source_in_a_copy_of_the_template_is_reported():
    template = load_template(ROOT / "sam" / "template.yaml")
    stats = full_stats(template)
    grown = copy.deepcopy(template)
    grown["Resources"]["DetectorFunction"]["Properties"]["Events"]["Archive"] = {
        "Type": "SQS",
        "Properties": {"Queue": "arn:aws:sqs:us-east-1:123456789012:new"},
    }
    grown["Resources"]["ExportFunction"] = {
        "Type": "AWS::Serverless::Function",
        "Properties": {
            "Events": {"Nightly": {"Type": "ScheduleV2", "Properties": {"ScheduleExpression": "rate(1 day)"}}}
        },
    }
    assert gaps(grown, stats) == [
        "DetectorFunction.Archive: no SQS event delivered locally",
        "ExportFunction: function not loaded by the local stack",
        "ExportFunction.Nightly: no ScheduleV2 event delivered locally",
    ]
