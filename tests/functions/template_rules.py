"""sam/template.yaml's EventBridge rules on moto: the rule's own pattern (resolved with the project's
CloudFormation reader) routed to an SQS queue, so a test sees exactly what EventBridge would deliver,
and the rule's SageMaker pipeline target applied as EventBridge applies it (StartPipelineExecution with
the target's SageMakerPipelineParameters; moto's EventBridge does not call SageMaker targets)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from anomaly_guardian.local.cfn import Resolver, load_template

TEMPLATE = Path(__file__).resolve().parents[2] / "sam" / "template.yaml"


def resource(logical: str, refs: dict[str, Any]) -> dict[str, Any]:
    return Resolver(refs=refs).resolve(load_template(TEMPLATE)["Resources"][logical])


def capture(rule_name: str, pattern: dict[str, Any], bus: str = "default") -> str:
    """Create the rule on moto with `pattern`, targeting a new queue; returns the queue URL."""
    from anomaly_guardian.adapters.dynamodb import client

    sqs, events = client("sqs"), client("events")
    queue = sqs.create_queue(QueueName=f"{rule_name}-capture")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=rule_name, EventPattern=json.dumps(pattern), EventBusName=bus)
    events.put_targets(Rule=rule_name, EventBusName=bus, Targets=[{"Id": "capture", "Arn": arn}])
    return queue


def delivered(queue: str) -> list[dict[str, Any]]:
    from anomaly_guardian.adapters.dynamodb import client

    sqs, out = client("sqs"), []
    for _ in range(3):
        for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
    return out


def start_pipeline_target(target: dict[str, Any]) -> str:
    """What EventBridge does for a SageMaker pipeline target: StartPipelineExecution of the pipeline
    named by the target's ARN with the target's PipelineParameterList."""
    from anomaly_guardian.adapters.dynamodb import client

    name = target["Arn"].rsplit(":pipeline/", 1)[1]
    params = (target.get("SageMakerPipelineParameters") or {}).get("PipelineParameterList", [])
    return client("sagemaker").start_pipeline_execution(PipelineName=name, PipelineParameters=params)[
        "PipelineExecutionArn"
    ]
