"""The template-coverage check: every function and event source of sam/template.yaml was exercised
on the local stack during this session's integration tests (counted by the stack itself).

It runs after the other integration tests (conftest moves it last) and reads the session stack's
counters; run alone it fails, as it should: nothing was exercised.
"""

from __future__ import annotations

import copy
from pathlib import Path

from anomaly_guardian.local.cfn import load_template
from anomaly_guardian.local.coverage import gaps

ROOT = Path(__file__).resolve().parents[2]


def test_every_function_and_event_source_of_the_template_was_exercised_locally(local_stack):
    template = load_template(ROOT / "sam" / "template.yaml")
    stats = local_stack.stats()
    missing = gaps(template, stats)
    assert missing == [], "not exercised on the local stack (docs/local-stack.md):\n" + "\n".join(missing)
    # And the check is not vacuous: a function and a rule the stack never ran are reported.
    ghost = copy.deepcopy(template)
    ghost["Resources"]["GhostFunction"] = {
        "Type": "AWS::Serverless::Function",
        "Properties": {
            "Events": {"Upload": {"Type": "S3", "Properties": {"Bucket": "b", "Events": "s3:ObjectCreated:*"}}}
        },
    }
    ghost["Resources"]["GhostRule"] = {
        "Type": "AWS::Events::Rule",
        "Properties": {"EventPattern": {"source": ["x"]}, "Targets": [{"Id": "t", "Arn": "arn:aws:sqs:::q"}]},
    }
    assert gaps(ghost, stats) == [
        "GhostFunction: function not loaded by the local stack",
        "GhostFunction.Upload: no S3 event delivered locally",
        "GhostRule.t: no AWS::Events::Rule event delivered locally",
    ]
