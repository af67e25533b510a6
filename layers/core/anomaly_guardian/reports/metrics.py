"""The KPIs as EMF metrics (namespace AnomalyGuardian, service `reports`, dimension `tenantId`): what the
CloudWatch dashboard's executive row shows (sam/template.yaml). One EMF blob per tenant so dimensions
never mix."""

from __future__ import annotations

from typing import Any

KPI_METRICS = {
    "securityPostureScore": ("SecurityPostureScore", "None"),
    "detectionRate": ("DetectionRate", "None"),
    "falsePositiveRate": ("FalsePositiveRate", "None"),
    "mttdSeconds": ("MTTD", "Seconds"),
    "mttrSeconds": ("MTTR", "Seconds"),
}


def emit_kpis(metrics: Any, tenant: str, kpis: dict[str, Any]) -> int:
    from aws_lambda_powertools.metrics import single_metric

    n = 0
    for key, (name, unit) in KPI_METRICS.items():
        value = kpis.get(key)
        if value is None:
            continue  # no verdicts, no latency samples: nothing measured, nothing emitted
        with single_metric(
            name=name,
            unit=unit,
            value=float(value),
            namespace=getattr(metrics, "namespace", None) or "AnomalyGuardian",
            default_dimensions=getattr(metrics, "default_dimensions", None),
        ) as metric:
            metric.add_dimension(name="tenantId", value=tenant)
        n += 1
    return n
