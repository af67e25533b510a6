"""SNS alerts topic: one message per alert with a `severity` attribute for subscription filter policies."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from anomaly_guardian.adapters.dynamodb import client


class AlertTopic:
    def __init__(self, topic_arn: str, sns: Any = None):
        self.topic_arn = topic_arn
        self.sns = sns or client("sns")

    def publish(self, subject: str, message: Mapping[str, Any], severity: str, tenant: str, event: str) -> str:
        resp = self.sns.publish(
            TopicArn=self.topic_arn,
            Subject=subject[:100],
            Message=json.dumps(message, default=str, separators=(",", ":")),
            MessageAttributes={
                "severity": {"DataType": "String", "StringValue": severity},
                "tenantId": {"DataType": "String", "StringValue": tenant},
                "event": {"DataType": "String", "StringValue": event},
            },
        )
        return resp["MessageId"]
