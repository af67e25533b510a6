"""Cost anomalies: AWS Cost Anomaly Detection findings (Cost Explorer `GetAnomalies`) as `cost` anomalies.

Pure: the `cost_anomalies` function pages GetAnomalies through `adapters.cost_explorer` and hands each
item here. An item becomes an anomaly when its total impact reaches the tenant's `cost-check` threshold
(`DetectionConfig.cost.min_total_impact_usd`, default $100, the seed's). The anomaly carries the impact
(`TotalImpact`, `TotalActualSpend` vs `TotalExpectedSpend`), the root causes (service, account, region,
usage type) and the `aws` correlation entity `{account}|{service}|{region}` that usage anomalies of the
same service, account and region also carry, so the correlator puts both in one incident
("ec2:RunInstances spike in us-east-1" + "EC2 cost anomaly"). `window` (the anomaly's days) widens the
correlation window: Cost Explorer reports hours or days after the usage detector saw the spike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from anomaly_guardian.models.anomaly import Anomaly, AnomalyType, Explanation, severity_for

EVENT_TYPE = "cost_anomaly"
RULE_ID = "cost-check"

# Cost Explorer SERVICE dimension values -> the CloudTrail service (eventSource prefix) whose calls spend it.
SERVICE_API = {
    "Amazon Elastic Compute Cloud - Compute": "ec2",
    "EC2 - Other": "ec2",  # EBS volumes and snapshots, NAT gateways, data transfer
    "Amazon EC2 Container Registry (ECR)": "ecr",
    "AWS Lambda": "lambda",
    "Amazon Simple Storage Service": "s3",
    "Amazon SageMaker": "sagemaker",
    "Amazon Relational Database Service": "rds",
    "Amazon DynamoDB": "dynamodb",
    "Amazon Kinesis": "kinesis",
    "Amazon OpenSearch Service": "es",
    "Amazon Elastic Container Service": "ecs",
    "Amazon Elastic Kubernetes Service": "eks",
    "Amazon Bedrock": "bedrock",
    "AmazonCloudWatch": "logs",
    "Amazon Simple Notification Service": "sns",
    "Amazon Simple Queue Service": "sqs",
    "AWS Step Functions": "states",
}
SHORT = {"ec2": "EC2", "lambda": "Lambda", "s3": "S3", "sagemaker": "SageMaker", "rds": "RDS", "dynamodb": "DynamoDB"}


def service_api(name: str | None) -> str:
    if not name:
        return "unknown"
    return SERVICE_API.get(name) or name.lower().replace("amazon ", "").replace("aws ", "").replace(" ", "-")


def aws_entity(account: str | None, service: str | None, region: str | None) -> str | None:
    """The correlation key cost and usage anomalies share; None without an account."""
    if not account:
        return None
    return f"{account}|{service or 'unknown'}|{region or 'global'}"


def _day_start(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day[:10]), datetime.min.time(), UTC)


def _iso(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds").replace("+00:00", "Z")


def query_window(last_end: str | None, today: date, lookback_days: int = 7, overlap_days: int = 1) -> tuple[str, str]:
    """(StartDate, EndDate) for GetAnomalies: since the last run (minus an overlap, anomalies grow while
    they last), or `lookback_days` on the first run. Dates are YYYY-MM-DD as the API takes them."""
    if last_end:
        start = date.fromisoformat(last_end) - timedelta(days=overlap_days)
    else:
        start = today - timedelta(days=lookback_days)
    start = min(start, today)
    return start.isoformat(), today.isoformat()


def root_causes(item: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for rc in item.get("RootCauses") or []:
        out.append(
            {
                "service": rc.get("Service"),
                "account": rc.get("LinkedAccount"),
                "accountName": rc.get("LinkedAccountName"),
                "region": rc.get("Region"),
                "usageType": rc.get("UsageType"),
                "contribution": (rc.get("Impact") or {}).get("Contribution"),
            }
        )
    out.sort(key=lambda r: -(r["contribution"] or 0.0))
    return out


def impact_of(item: Mapping[str, Any]) -> dict[str, float | None]:
    imp = item.get("Impact") or {}
    total = imp.get("TotalImpact")
    if total is None:  # older responses only had MaxImpact (per-day)
        total = imp.get("MaxImpact", 0.0)
    return {
        "totalImpact": float(total),
        "maxImpact": imp.get("MaxImpact"),
        "totalActualSpend": imp.get("TotalActualSpend"),
        "totalExpectedSpend": imp.get("TotalExpectedSpend"),
        "totalImpactPercentage": imp.get("TotalImpactPercentage"),
    }


def score_for(total_impact: float, threshold: float) -> float:
    """0.6 at the threshold, 0.9 (CRITICAL) at 10x, capped at 0.99 from about 100x."""
    ratio = max(total_impact / threshold, 1.0)
    return round(min(0.99, 0.6 + 0.3 * math.log10(ratio)), 4)


def _money(v: float | None) -> str:
    return "?" if v is None else f"${v:,.2f}"


def to_anomaly(
    item: Mapping[str, Any], tenant: str, threshold: float, anomaly_id: str, detected_at: str
) -> Anomaly | None:
    """The `cost` anomaly for one GetAnomalies item, or None below the tenant's threshold."""
    impact = impact_of(item)
    total = float(impact["totalImpact"] or 0.0)
    if total < threshold:
        return None
    causes = root_causes(item)
    top = causes[0] if causes else {}
    dimension = item.get("DimensionValue") or top.get("service")
    service = top.get("service") or dimension
    api = service_api(service)
    label = SHORT.get(api, service or "AWS")
    start = item.get("AnomalyStartDate") or detected_at
    end = item.get("AnomalyEndDate") or detected_at
    where = ", ".join(
        p
        for p in (
            f"{service}" if service else "",
            f"in {top['region']}" if top.get("region") else "",
            f"account {top['account']}" if top.get("account") else "",
            f"usage type {top['usageType']}" if top.get("usageType") else "",
        )
        if p
    )
    description = (
        f"{label} cost anomaly: {_money(total)} above expected "
        f"({_money(impact['totalActualSpend'])} actual vs {_money(impact['totalExpectedSpend'])} expected) "
        f"from {start[:10]} to {end[:10]}" + (f"; root cause: {where}" if where else "")
    )
    explanation = [
        Explanation(
            feature="totalImpact",
            observed=round(total, 2),
            expected=threshold,
            detail=f"Cost Explorer total impact against the {RULE_ID} threshold (${threshold:,.0f})",
        ),
        Explanation(
            feature="totalActualSpend",
            observed=impact["totalActualSpend"],
            expected=impact["totalExpectedSpend"],
            detail=f"{impact['totalImpactPercentage']}% above expected"
            if impact["totalImpactPercentage"] is not None
            else None,
        ),
    ]
    explanation += [
        Explanation(
            feature="rootCause",
            observed=rc["contribution"],
            detail=", ".join(f"{k}={rc[k]}" for k in ("service", "account", "region", "usageType") if rc.get(k)),
        )
        for rc in causes[:5]
    ]
    entities = {}
    key = aws_entity(top.get("account"), api, top.get("region"))
    if key:
        entities["aws"] = key
    score = score_for(total, threshold)
    return Anomaly(
        anomalyId=anomaly_id,
        tenantId=tenant,
        severity=severity_for(score),
        anomalyScore=score,
        detectedAt=detected_at,
        userId=f"aws:{top.get('account') or 'account'}:{api}",
        anomalyType=AnomalyType.COST,
        description=description,
        originalEvent={
            "eventId": item["AnomalyId"],
            "timestamp": _iso(_day_start(start)),
            "eventType": EVENT_TYPE,
            "monitorArn": item.get("MonitorArn"),
            "dimensionValue": dimension,
        },
        explanation=explanation,
        detector="cost",
        entities=entities,
        costAnomalyId=item["AnomalyId"],
        impact=impact,
        rootCauses=causes,
        threshold={"ruleId": RULE_ID, "minTotalImpactUsd": threshold},
        window={"start": _iso(_day_start(start)), "end": _iso(_day_start(end) + timedelta(days=1))},
        anomalyScoreCostExplorer=(item.get("AnomalyScore") or {}).get("MaxScore"),
    )
